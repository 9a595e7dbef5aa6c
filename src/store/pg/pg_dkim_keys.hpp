// PgDkimKeys: the msgauth::DkimKeyStore on a shared PostgreSQL database (issue 20), so that a key
// made with `posthorn dkim generate` on any node signs on every node after its next start or SIGHUP.
// Table dkim_key(domain, selector, pem, created_at), primary key (domain, selector), in component
// "directory" (version 2, pg_directory_schema.cpp). The private keys are in the database: whoever
// can read it can sign as the domains (docs/cluster.md). No call blocks a thread. Thread-safe; the
// store must outlive its calls.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "msgauth/dkim_keys.hpp"
#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

class PgDkimKeys final : public msgauth::DkimKeyStore {
 public:
  // Connects and brings the "directory" schema to its current version (kInvalid for a newer one,
  // kUnavailable when the database cannot be reached). Queries run on `executor`.
  static Task<std::unique_ptr<PgDkimKeys>> open(boost::asio::any_io_executor executor, const PoolOptions& options);

  Task<std::vector<msgauth::DkimKey>> list() override;
  Task<void> add(msgauth::DkimKey key) override;

 private:
  PgDkimKeys(boost::asio::any_io_executor executor, const PoolOptions& options) : pool_(std::move(executor), options) {}
  Pool pool_;
};

}  // namespace posthorn::store::pg
