// The open configuration and storage (app/backends.hpp) shared by the administration commands (admin_cli.cpp) and
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
#include "app/backends.hpp"
#include "store/store.hpp"

namespace posthorn::app {

struct Admin {
  std::string command;  // "posthorn user add", the prefix of every error
  std::shared_ptr<const config::Config> cfg;
  // Runs the directory's and the queue's blocking work (their calls are awaitables, run here with
  // run_sync); before backends so it outlives them.
  std::unique_ptr<BlockingPool> pool;
  std::unique_ptr<Backends> backends;  // the directory alone, opened by open_admin
  auth::Directory* dir = nullptr;      // backends->directory()

  int fail(std::string_view message) const;
  // A directory error with no better explanation in context.
  int fail(const Error& e) const;
};

// Opens the configured mail store and runs `job` on it to the end, on this
// thread (the store's blocking work runs on a small pool). Errors: the store's, or the job's.
using StoreJob = std::function<boost::asio::awaitable<Result<void>>(store::MailStore*)>;
Result<void> run_on_store(const Admin& a, StoreJob job);

// Loads the config and opens the directory ([store]: <data_dir>/directory.db or PostgreSQL); on
// failure prints why (with a hint) and returns nullopt.
std::optional<Admin> open_admin(std::string command, const std::filesystem::path& config_file);

}  // namespace posthorn::app
