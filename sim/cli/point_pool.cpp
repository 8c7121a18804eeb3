#include "sim/cli/point_pool.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>

#ifdef CLUSTERSIM_HAVE_MPI
#include <mpi.h>
#endif

namespace clustersim::cli {

namespace {

using Clock = std::chrono::steady_clock;

// "<1 s", "12 s", "4 min 05 s", "2 h 13 min".
std::string duration_text(double seconds) {
  const long long s = std::llround(seconds);
  if (s < 1) return "<1 s";
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min {:02} s", s / 60, s % 60);
  return fmt::format("{} h {:02} min", s / 3600, (s % 3600) / 60);
}

// The progress of a batch, on the writing rank's stderr. On a terminal, one line redrawn in place
// as points finish ("sweep dsv3: 5/9 points, 0 failed, 2.1 points/s, ETA 2 s"), with the lines of
// failed points above it; otherwise a line per point, the counts in front of what the point gave
// ("[5/9, 0 failed, 2.1 points/s, ETA 2 s] point 4 (parallelism.pp=16): step 18.921 s").
class Progress {
 public:
  Progress(std::size_t total, std::string label, bool quiet)
      : total_(total),
        label_(std::move(label)),
        terminal_(::isatty(STDERR_FILENO) == 1),
        quiet_(quiet),
        start_(Clock::now()) {
    if (terminal_ && total_ > 0) draw();
  }

  // Called one point at a time.
  void finished(std::size_t index, const PointOutcome& outcome) {
    ++done_;
    if (!outcome.ok) ++failed_;
    const std::string point = outcome.summary.empty()
                                  ? fmt::format("point {}", index)
                                  : fmt::format("point {} {}", index, outcome.summary);
    if (terminal_) {
      if (!outcome.ok) std::cerr << "\r\033[K" << point << '\n';
      draw();
    } else if (!quiet_) {
      std::cerr << fmt::format("[{}/{}{}] {}\n", done_, total_, counts(), point);
    }
  }

  void close() {
    if (terminal_ && total_ > 0) std::cerr << '\n' << std::flush;
  }

  // A point that will not run (the caller's skip): one fewer to wait for.
  void skipped() {
    if (total_ > 0) --total_;
  }

 private:
  // ", 1 failed, 2.1 points/s, ETA 3 s"
  [[nodiscard]] std::string counts() const {
    std::string text = fmt::format(", {} failed", failed_);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    if (done_ > 0 && elapsed > 0) {
      const double points_per_s = static_cast<double>(done_) / elapsed;
      text += fmt::format(", {:.3g} points/s", points_per_s);
      if (done_ < total_) {
        text += ", ETA " + duration_text(static_cast<double>(total_ - done_) / points_per_s);
      }
    }
    return text;
  }

  void draw() {
    std::cerr << fmt::format("\r\033[K{}: {}/{} points{}", label_, done_, total_, counts())
              << std::flush;
  }

  std::size_t total_;
  std::string label_;
  bool terminal_;
  bool quiet_;
  Clock::time_point start_;
  std::size_t done_ = 0;
  std::size_t failed_ = 0;
};

// The points still to hand out, in the order of `todo`, less those `skip` drops when their turn
// comes (`on_skip` hears of each).
class Queue {
 public:
  Queue(const std::vector<std::size_t>& todo, const std::function<bool(std::size_t)>& skip)
      : todo_(todo), skip_(skip) {}

  void on_skip(std::function<void()> callback) { on_skip_ = std::move(callback); }

  [[nodiscard]] std::optional<std::size_t> next() {
    const std::lock_guard lock(mutex_);
    while (!stopped_ && next_ < todo_.size() && skip_ && skip_(todo_[next_])) {
      ++next_;
      if (on_skip_) on_skip_();
    }
    if (stopped_ || next_ >= todo_.size()) return std::nullopt;
    return todo_[next_++];
  }

  // Hands out nothing more.
  void stop() {
    const std::lock_guard lock(mutex_);
    stopped_ = true;
  }

 private:
  const std::vector<std::size_t>& todo_;
  const std::function<bool(std::size_t)>& skip_;
  std::function<void()> on_skip_;
  std::mutex mutex_;
  std::size_t next_ = 0;
  bool stopped_ = false;
};

struct Finished {
  std::size_t index = 0;
  PointOutcome outcome;
  bool threw = false;  // work threw: outcome.summary holds its message and done is not called
};

Finished attempt(const std::function<PointOutcome(std::size_t)>& work, std::size_t index) {
  try {
    return {index, work(index), false};
  } catch (const std::exception& error) {
    return {index, {"", false, fmt::format("failed: {}", error.what())}, true};
  }
}

// The writing rank's end of the pool: passes finished points to `done` and the progress line,
// one at a time. An exception from `done` stops the handing out of points and is rethrown by
// finish(), once the points already running are in.
class Writer {
 public:
  Writer(const std::function<void(std::size_t, const std::string&)>& done, std::size_t total,
         const PoolOptions& options, Queue& queue)
      : done_(done), progress_(total, options.label, options.quiet), queue_(queue) {}

  void take(const Finished& finished) {
    const std::lock_guard lock(mutex_);
    if (!finished.threw && !error_) {
      try {
        done_(finished.index, finished.outcome.text);
      } catch (...) {
        error_ = std::current_exception();
        queue_.stop();
      }
    }
    progress_.finished(finished.index, finished.outcome);
  }

  void finish() {
    progress_.close();
    if (error_) std::rethrow_exception(error_);
  }

  void skipped() {
    const std::lock_guard lock(mutex_);
    progress_.skipped();
  }

 private:
  const std::function<void(std::size_t, const std::string&)>& done_;
  Progress progress_;
  Queue& queue_;
  std::mutex mutex_;
  std::exception_ptr error_;
};

// Runs `loop` on `threads` threads, the calling thread being one of them.
void run_on_threads(int threads, const std::function<void()>& loop) {
  std::vector<std::jthread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back(loop);
  loop();
}

#ifdef CLUSTERSIM_HAVE_MPI

struct MpiState {
  bool started = false;
  int size = 1;
  int rank = 0;
  int node_ranks = 1;  // ranks on this machine (MPI_COMM_TYPE_SHARED)
  int thread_level = MPI_THREAD_SINGLE;
};

MpiState& mpi_state() {
  static MpiState state;
  return state;
}

void finalize_mpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized == 0) MPI_Finalize();
}

// Waiting ranks poll instead of blocking: Open MPI's blocking calls spin a core, which the points
// running beside them on the same machine need. A reply comes within one poll interval.
constexpr std::chrono::microseconds kPollInterval{1000};

void wait_politely(MPI_Request& request) {
  for (int flag = 0;;) {
    MPI_Test(&request, &flag, MPI_STATUS_IGNORE);
    if (flag != 0) return;
    std::this_thread::sleep_for(kPollInterval);
  }
}

// Messages: workers ask rank 0 for a point, carrying the one they finished; rank 0 answers with a
// point or "stop"; a worker whose threads have all stopped says so, after its last result.
constexpr int kTagToRoot = 1;
constexpr int kTagToWorker = 2;
enum class ToRoot : std::uint8_t { ask, result, threw, rank_done };
enum class ToWorker : std::uint8_t { work, stop };

template <class T>
void append(std::string& buffer, const T& value) {
  buffer.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <class T>
T take_from(const std::string& buffer, std::size_t& at) {
  T value{};
  if (at + sizeof value > buffer.size()) throw std::logic_error("a truncated point-pool message");
  std::memcpy(&value, buffer.data() + at, sizeof value);
  at += sizeof value;
  return value;
}

std::string ask_message(const Finished* finished) {
  std::string buffer;
  if (finished == nullptr) {
    append(buffer, ToRoot::ask);
    return buffer;
  }
  append(buffer, finished->threw ? ToRoot::threw : ToRoot::result);
  append(buffer, static_cast<std::uint64_t>(finished->index));
  append(buffer, static_cast<std::uint8_t>(finished->outcome.ok ? 1 : 0));
  append(buffer, static_cast<std::uint64_t>(finished->outcome.summary.size()));
  buffer.append(finished->outcome.summary);
  buffer.append(finished->outcome.text);
  return buffer;
}

struct RootMessage {
  ToRoot kind = ToRoot::ask;
  Finished finished;
};

RootMessage read_root_message(const std::string& buffer) {
  std::size_t at = 0;
  RootMessage message;
  message.kind = take_from<ToRoot>(buffer, at);
  if (message.kind != ToRoot::result && message.kind != ToRoot::threw) return message;
  message.finished.threw = message.kind == ToRoot::threw;
  message.finished.index = take_from<std::uint64_t>(buffer, at);
  message.finished.outcome.ok = take_from<std::uint8_t>(buffer, at) != 0;
  const auto summary_size = take_from<std::uint64_t>(buffer, at);
  if (at + summary_size > buffer.size()) throw std::logic_error("a truncated point-pool message");
  message.finished.outcome.summary = buffer.substr(at, summary_size);
  message.finished.outcome.text = buffer.substr(at + summary_size);
  return message;
}

void send_politely(const std::string& buffer, int destination, int tag) {
  MPI_Request request = MPI_REQUEST_NULL;
  MPI_Isend(buffer.data(), static_cast<int>(buffer.size()), MPI_BYTE, destination, tag,
            MPI_COMM_WORLD, &request);
  wait_politely(request);
}

// Rank 0: answers every rank's requests until each has said that it stopped.
void serve_ranks(Queue& queue, Writer& writer) {
  int ranks_running = mpi_state().size - 1;
  std::string buffer;
  while (ranks_running > 0) {
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kTagToRoot, MPI_COMM_WORLD, &flag, &status);
    if (flag == 0) {
      std::this_thread::sleep_for(kPollInterval);
      continue;
    }
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    buffer.resize(static_cast<std::size_t>(count));
    MPI_Recv(buffer.data(), count, MPI_BYTE, status.MPI_SOURCE, kTagToRoot, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    const RootMessage message = read_root_message(buffer);
    if (message.kind == ToRoot::rank_done) {
      --ranks_running;
      continue;
    }
    if (message.kind != ToRoot::ask) writer.take(message.finished);
    const std::optional<std::size_t> next = queue.next();
    std::string reply;
    append(reply, next ? ToWorker::work : ToWorker::stop);
    append(reply, static_cast<std::uint64_t>(next.value_or(0)));
    // Nine bytes: sent at once (eager), so a blocking send never waits.
    MPI_Send(reply.data(), static_cast<int>(reply.size()), MPI_BYTE, status.MPI_SOURCE,
             kTagToWorker, MPI_COMM_WORLD);
  }
}

// Another rank: `threads` threads each ask rank 0 for a point, run it, and send its result with
// the next request, until rank 0 says stop. One thread at a time talks to rank 0, so each reply
// is read by the thread that asked.
void work_for_root(int threads, const std::function<PointOutcome(std::size_t)>& work) {
  if (mpi_state().thread_level < MPI_THREAD_SERIALIZED) threads = 1;
  std::mutex talk;
  run_on_threads(threads, [&] {
    std::string message = ask_message(nullptr);
    while (true) {
      std::string reply(sizeof(ToWorker) + sizeof(std::uint64_t), '\0');
      {
        const std::lock_guard lock(talk);
        send_politely(message, 0, kTagToRoot);
        MPI_Request request = MPI_REQUEST_NULL;
        MPI_Irecv(reply.data(), static_cast<int>(reply.size()), MPI_BYTE, 0, kTagToWorker,
                  MPI_COMM_WORLD, &request);
        wait_politely(request);
      }
      std::size_t at = 0;
      if (take_from<ToWorker>(reply, at) == ToWorker::stop) return;
      const Finished finished = attempt(work, take_from<std::uint64_t>(reply, at));
      message = ask_message(&finished);
    }
  });
  std::string done;
  append(done, ToRoot::rank_done);
  send_politely(done, 0, kTagToRoot);
}

#endif  // CLUSTERSIM_HAVE_MPI

}  // namespace

bool run_points(const std::vector<std::size_t>& todo, const PoolOptions& options,
                const std::function<PointOutcome(std::size_t)>& work,
                const std::function<void(std::size_t, const std::string&)>& done,
                const std::function<bool(std::size_t)>& skip) {
  const int jobs = std::max(1, options.jobs);
  const auto local_loop = [&](Queue& queue, Writer& writer) {
    return [&] {
      while (const std::optional<std::size_t> index = queue.next())
        writer.take(attempt(work, *index));
    };
  };
  if (!options.mpi) {
    Queue queue(todo, skip);
    Writer writer(done, todo.size(), options, queue);
    queue.on_skip([&writer] { writer.skipped(); });
    run_on_threads(std::min<int>(jobs, static_cast<int>(std::max<std::size_t>(1, todo.size()))),
                   local_loop(queue, writer));
    writer.finish();
    return true;
  }
#ifdef CLUSTERSIM_HAVE_MPI
  if (!mpi_state().started) {
    const std::string command = options.label.substr(0, options.label.find(' '));
    if (const std::optional<std::string> error = start_mpi(command)) {
      throw std::invalid_argument(*error);
    }
  }
  if (mpi_state().rank != 0) {
    work_for_root(jobs, work);
    return false;
  }
  Queue queue(todo, skip);
  Writer writer(done, todo.size(), options, queue);
  queue.on_skip([&writer] { writer.skipped(); });
  // Rank 0 runs points too, on threads of their own: only its main thread talks to the ranks.
  {
    std::vector<std::jthread> local;
    if (mpi_state().thread_level >= MPI_THREAD_FUNNELED) {
      for (int j = 0; j < jobs; ++j) local.emplace_back(local_loop(queue, writer));
    }
    serve_ranks(queue, writer);
  }  // joins the local threads
  writer.finish();
  return true;
#else
  throw std::invalid_argument("--mpi: this build has no MPI support");
#endif
}

bool mpi_available() {
#ifdef CLUSTERSIM_HAVE_MPI
  return true;
#else
  return false;
#endif
}

int mpi_world_size() {
#ifdef CLUSTERSIM_HAVE_MPI
  return mpi_state().size;
#else
  return 1;
#endif
}

int mpi_rank() {
#ifdef CLUSTERSIM_HAVE_MPI
  return mpi_state().rank;
#else
  return 0;
#endif
}

std::optional<std::string> start_mpi(const std::string& command) {
#ifdef CLUSTERSIM_HAVE_MPI
  MpiState& state = mpi_state();
  if (!state.started) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised == 0) {
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &state.thread_level);
      std::atexit(finalize_mpi);
    } else {
      MPI_Query_thread(&state.thread_level);
    }
    MPI_Comm_size(MPI_COMM_WORLD, &state.size);
    MPI_Comm_rank(MPI_COMM_WORLD, &state.rank);
    MPI_Comm node = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, state.rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &state.node_ranks);
    MPI_Comm_free(&node);
    state.started = true;
  }
  if (state.size < 2) {
    return fmt::format("clustersim {}: --mpi needs at least 2 ranks: run it under mpirun -np K",
                       command);
  }
  return std::nullopt;
#else
  return fmt::format(
      "clustersim {}: --mpi: this build has no MPI support; use -j to run points in parallel on "
      "one machine",
      command);
#endif
}

bool mpi_all_ready(bool ready) {
#ifdef CLUSTERSIM_HAVE_MPI
  if (!mpi_state().started) return ready;
  int mine = ready ? 1 : 0;
  int all = 0;
  MPI_Request request = MPI_REQUEST_NULL;
  MPI_Iallreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &request);
  wait_politely(request);
  return all == 1;
#else
  return ready;
#endif
}

int points_at_once_on_this_machine(const PoolOptions& options) {
  const int jobs = std::max(1, options.jobs);
#ifdef CLUSTERSIM_HAVE_MPI
  if (options.mpi && mpi_state().started) return jobs * mpi_state().node_ranks;
#endif
  return jobs;
}

}  // namespace clustersim::cli
