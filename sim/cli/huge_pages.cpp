// Large allocations on transparent huge pages, for the executables (linked into them, not into
// the libraries).
//
// A large flow model reads its per-flow arrays at random: an all-to-all over 1,024 GPUs holds a
// million flows in a few hundred MB, and with 4 KiB pages nearly every such read also misses the
// TLB and walks the page table. Linux backs a region with 2 MiB pages where the process asks
// for it (madvise MADV_HUGEPAGE; the common "madvise" setting of
// /sys/kernel/mm/transparent_hugepage/enabled), so the replaceable global operator new asks
// for it on every allocation of at least kHugeAtLeast bytes, aligned to a huge page. The 1 MiB
// all-to-all at a batching of 0.5 (bench/scaling_curve.sh) took 60 s instead of 75 s on 4,096
// GPUs and 12-15 % less user time on 1,024. Smaller allocations, and every free, go to malloc
// as before. Where the kernel gives no huge pages the advice is ignored and nothing changes.

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kHugeAtLeast = std::size_t{2} << 20;

void* allocate(std::size_t size) {
  if (size >= kHugeAtLeast) {
    const std::size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
    if (void* block = std::aligned_alloc(kHugePage, rounded)) {
      madvise(block, rounded, MADV_HUGEPAGE);  // advice: its failure changes nothing
      return block;
    }
    throw std::bad_alloc();
  }
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) {
  return allocate(size);
}
void* operator new[](std::size_t size) {
  return allocate(size);
}
void operator delete(void* block) noexcept {
  std::free(block);
}
void operator delete[](void* block) noexcept {
  std::free(block);
}
void operator delete(void* block, std::size_t /*size*/) noexcept {
  std::free(block);
}
void operator delete[](void* block, std::size_t /*size*/) noexcept {
  std::free(block);
}
