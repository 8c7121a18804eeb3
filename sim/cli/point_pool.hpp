#pragma once
// Running a batch of independent points (the points of a sweep, the layouts of a search): on
// `jobs` threads of this process, or on the ranks of MPI_COMM_WORLD with dynamic load balancing.
// Under MPI, rank 0 hands out point indices one at a time as ranks ask for them (a rank asks for
// the next when it has finished one), so a slow point never holds up the others, and every result
// comes back to rank 0, the only rank that writes. A progress line counts the points done, the
// failed ones, the rate and the time left.
//
// A command given --mpi calls start_mpi first (MPI_Init; MPI_Finalize runs at exit), then, when
// ranks prepare different things, mpi_all_ready so that all go on or all stop, then run_points on
// every rank.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace clustersim::cli {

// How a batch of independent points runs: `jobs` threads in this process, or (mpi) the ranks of
// MPI_COMM_WORLD with dynamic load balancing, `jobs` points at once on each rank.
struct PoolOptions {
  int jobs = 1;
  bool mpi = false;
  std::string label;   // "sweep dsv3_pp" for the progress line
  bool quiet = false;  // no line per point when stderr is not a terminal (the caller reports)
};

// One finished point: its result as text (JSON) and whether it succeeded (ok=false counts as
// failed on the progress line). `summary`, optional, follows "point N" on the progress output
// ("(parallelism.pp=16): step 18.921 s").
struct PointOutcome {
  std::string text;
  bool ok = true;
  std::string summary;
};

// Runs work(i) for every i of `todo`. done(i, text) runs on the writing rank (rank 0, or the only
// process), one call at a time, as each point finishes. Returns true on the writing rank, false on
// other MPI ranks (which must then write nothing). Under MPI the `todo` of rank 0 is handed out;
// the other ranks' is not read. A work(i) that throws counts as failed, with its message on the
// progress output, and done is not called for it. `skip` (optional) is asked on the writing rank,
// one call at a time, whether a point is still worth running when its turn comes (a layout search
// drops the layouts the results so far rule out); it may run while `done` runs on another thread,
// so what the two share needs a lock of its own.
bool run_points(const std::vector<std::size_t>& todo, const PoolOptions& options,
                const std::function<PointOutcome(std::size_t)>& work,
                const std::function<void(std::size_t, const std::string&)>& done,
                const std::function<bool(std::size_t)>& skip = {});

// MPI: whether this build has it; the world size and rank (1 and 0 without MPI or when not
// initialised).
[[nodiscard]] bool mpi_available();
[[nodiscard]] int mpi_world_size();
[[nodiscard]] int mpi_rank();

// Starts MPI for `command` ("sweep") given --mpi. Nullopt when this process is one of at least 2
// ranks; otherwise the message to print before exiting with 2 ("clustersim sweep: --mpi needs at
// least 2 ranks: run it under mpirun -np K", or that the build has no MPI).
[[nodiscard]] std::optional<std::string> start_mpi(const std::string& command);

// Whether every rank is `ready`: a collective call that every rank makes, as often and in the
// same order, so that a rank that cannot go on stops them all instead of leaving them waiting.
// Without MPI, `ready`.
[[nodiscard]] bool mpi_all_ready(bool ready);

// The points that run at once on this machine, which share its memory: `jobs`, times the ranks on
// this node under MPI.
[[nodiscard]] int points_at_once_on_this_machine(const PoolOptions& options);

}  // namespace clustersim::cli
