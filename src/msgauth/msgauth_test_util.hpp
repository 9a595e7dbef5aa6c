// Helpers for the msgauth tests (besides spf_test_util.hpp's run): a temporary folder, running a
// shell command (the python3-dkim interop scripts in testdata/) with its output captured, and random
// edits of a message for robustness tests.
// Header-only, used by *_test.cpp only. Not thread-safe (one test thread).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace posthorn::msgauth::test_util {

// A folder under the system temp folder, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix)
      : dir_(std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() { std::filesystem::remove_all(dir_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `content` to the file `name` in the folder; returns its path.
  std::string write(const std::string& name, const std::string& content) const {
    auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

 private:
  std::filesystem::path dir_;
};

// Runs a shell command; returns its exit status (-1 when it did not exit) and puts its stdout in `out`.
inline int run_command(const std::string& command, std::string& out) {
  out.clear();
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// 1 to 4 random byte edits, insertions and cuts of `m`, at positions before `hot_end` three times in
// four (the header fields under test), anywhere otherwise.
inline std::string mutate(std::string m, std::size_t hot_end, std::mt19937& rng) {
  const std::string alphabet = "=;:\r\n \t@.abAB019+/-_\xff";
  int edits = 1 + int(rng() % 4);
  for (int e = 0; e < edits && !m.empty(); ++e) {
    std::size_t pos = rng() % (rng() % 4 == 0 ? m.size() : std::min(hot_end, m.size()));
    char c = alphabet[rng() % alphabet.size()];
    switch (rng() % 3) {
      case 0: m[pos] = c; break;
      case 1: m.insert(m.begin() + long(pos), c); break;
      default: m.erase(pos, 1 + rng() % 8); break;
    }
  }
  return m;
}

}  // namespace posthorn::msgauth::test_util
