// FileDkimKeys: the embedded msgauth::DkimKeyStore, one PEM file per key in
// <data_dir>/dkim/<domain>/<selector>.pem (folders 0700, files 0600), the layout an operator may also
// fill by hand. add() writes a new file (O_EXCL: never overwrites a key) and syncs it and its folder
// before it returns. Depends on msgauth/dkim_keys, base/. Thread-safe (the file system arbitrates two
// adds of one selector); each call runs on the BlockingPool given to open(), which must outlive it.
#pragma once

#include <filesystem>
#include <memory>

#include "base/blocking_pool.hpp"
#include "msgauth/dkim_keys.hpp"

namespace posthorn::store::sqlite {

class FileDkimKeys final : public msgauth::DkimKeyStore {
 public:
  // Nothing is created until the first add(); a missing folder lists no keys.
  static std::unique_ptr<FileDkimKeys> open(const std::filesystem::path& data_dir, BlockingPool& pool);

  // Errc::kUnavailable naming the file when a key cannot be read.
  Task<std::vector<msgauth::DkimKey>> list() override;
  Task<void> add(msgauth::DkimKey key) override;

 private:
  FileDkimKeys(std::filesystem::path root, BlockingPool& pool) : root_(std::move(root)), pool_(pool) {}
  Result<std::vector<msgauth::DkimKey>> list_blocking() const;
  Result<void> add_blocking(const msgauth::DkimKey& key) const;

  const std::filesystem::path root_;  // <data_dir>/dkim
  BlockingPool& pool_;
};

}  // namespace posthorn::store::sqlite
