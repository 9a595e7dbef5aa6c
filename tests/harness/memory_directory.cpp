// make_memory_directory(): the test Directory is a SqliteDirectory on a private ":memory:" database,
// so tests get exactly the production semantics (case rules, aliases, resolve) without files.
#include <stdexcept>

#include "harness/harness.hpp"
#include "store/sqlite/sqlite_directory.hpp"

namespace posthorn::testing {

std::unique_ptr<auth::Directory> make_memory_directory(BlockingPool& pool) {
  auto dir = store::sqlite::SqliteDirectory::open(":memory:", pool);
  if (!dir) throw std::runtime_error("in-memory directory: " + dir.error().message);  // a bug in the test setup
  return std::move(*dir);
}

}  // namespace posthorn::testing
