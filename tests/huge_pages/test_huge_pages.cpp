// The executables' operator new (sim/cli/huge_pages.cpp), linked into this test program as into
// the CLI: a large allocation is aligned to a huge page and advised onto huge pages; a small
// one is plain malloc.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace {

constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;

// The VmFlags line of the mapping of /proc/self/smaps that holds `address`, or "" if none does.
std::string vm_flags_of(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-' &&
        line.find(' ') != std::string::npos && line.find(':') > line.find(' ')) {
      inside = begin <= at && at < end;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return {};
}

// Whether the kernel gives huge pages to a region that asks (THP in "always" or "madvise").
bool huge_pages_on_request() {
  std::ifstream setting("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(setting, modes);
  return modes.find("[always]") != std::string::npos ||
         modes.find("[madvise]") != std::string::npos;
}

TEST(HugePages, ALargeAllocationIsAlignedAndAdvisedOntoHugePages) {
  const auto block = std::make_unique<char[]>(std::size_t{5} << 20);
  block[0] = 1;
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block.get()) % kHugePage, 0U);
  if (!huge_pages_on_request()) GTEST_SKIP() << "transparent huge pages are off in this kernel";
  const std::string flags = vm_flags_of(block.get());
  ASSERT_FALSE(flags.empty()) << "no mapping holds the block";
  EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
}

TEST(HugePages, ASmallAllocationIsNotAdvised) {
  const auto block = std::make_unique<char[]>(4096);
  block[0] = 1;
  const std::string flags = vm_flags_of(block.get());
  ASSERT_FALSE(flags.empty()) << "no mapping holds the block";
  EXPECT_EQ(flags.find(" hg"), std::string::npos) << flags;
}

}  // namespace
