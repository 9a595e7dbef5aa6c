// For the behavioural suites run on every backend (mail_store_contract.hpp, directory_contract.hpp):
// a temp folder per test, what a backend's test data needs (BackendContext), and the parameter that
// names a backend and makes its data (BackendParamOf). Header-only.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/blocking_pool.hpp"
#include "tests/harness/temp_dir.hpp"

namespace posthorn::testing {

// What a backend's data needs: the io_context the tests drive, the blocking pool, a temp folder.
struct BackendContext {
  boost::asio::io_context& io;
  BlockingPool& pool;
  std::filesystem::path dir;
};

// One backend of a suite: its name (the test name's suffix) and how to make its data for one test.
template <class Backend>
struct BackendParamOf {
  std::string name;
  std::function<std::unique_ptr<Backend>(BackendContext&)> make;
};

}  // namespace posthorn::testing
