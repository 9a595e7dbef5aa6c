// The open configuration and directory shared by the administration commands (admin_cli.cpp) and
// the import/export commands (transfer_cli.cpp), and their one way of reporting errors:
// "posthorn user add: <what happened>; <what to do>" on stderr with exit status 1.
// Used from the main thread of a command-line run only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/blocking_pool.hpp"
#include "base/result.hpp"
#include "config/config.hpp"
#include "store/sqlite/sqlite_directory.hpp"
#include "store/store.hpp"

namespace posthorn::app {

struct Admin {
  std::string command;  // "posthorn user add", the prefix of every error
  std::shared_ptr<const config::Config> cfg;
  // Runs the directory's and the queue's blocking work (their calls are awaitables, run here with
  // run_sync); before dir so it outlives it.
  std::unique_ptr<BlockingPool> pool;
  std::unique_ptr<store::sqlite::SqliteDirectory> dir;

  int fail(std::string_view message) const;
  // A directory error with no better explanation in context.
  int fail(const Error& e) const;
};

// Opens the mail store of the configured data folder and runs `job` on it to the end, on this
// thread (the store's blocking work runs on a small pool). Errors: the store's, or the job's.
using StoreJob = std::function<boost::asio::awaitable<Result<void>>(store::MailStore*)>;
Result<void> run_on_store(const Admin& a, StoreJob job);

// Loads the config and opens <data_dir>/directory.db; on failure prints why (with a hint) and
// returns nullopt.
std::optional<Admin> open_admin(std::string command, const std::filesystem::path& config_file);

}  // namespace posthorn::app
