#pragma once
// Independent pieces of work on a few threads: work(i) for every i in [0, count), each once, on
// up to `jobs` threads (the calling one among them), handing out the next index as a thread
// frees. The first exception a piece throws is rethrown here, once every thread has stopped.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace clustersim {

template <class Work>
void parallel_for(std::size_t count, std::size_t jobs, const Work& work) {
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        work(i);
      } catch (...) {
        const std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  {
    std::vector<std::jthread> threads;
    for (std::size_t j = 1; j < std::min(jobs, count); ++j) threads.emplace_back(worker);
    worker();
  }  // joins
  if (failure) std::rethrow_exception(failure);
}

}  // namespace clustersim
