// The out-of-line part of fuzz_util.hpp; linked into every fuzz target and replay executable.
#include "fuzz_util.hpp"

#include <cstdio>
#include <cstdlib>

namespace posthorn::fuzz {

void fail(const char* what) {
  std::fprintf(stderr, "fuzz oracle failed: %s\n", what);
  std::abort();
}

}  // namespace posthorn::fuzz
