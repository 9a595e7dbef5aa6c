// For the behavioural suites run on every backend (mail_store_contract.hpp, directory_contract.hpp,
// ...): a temp folder per test, what a backend's test data needs (BackendContext), the parameter that
// names a backend and makes its data (BackendParamOf, backend_values, backend_name), and the fixture
// of a suite whose backend opens one object (OpenedSuite). Header-only.
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
#include "tests/harness/drive.hpp"
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

// The test-name suffix of a suite's instantiation: the backend's name.
template <class Param>
std::string backend_name(const ::testing::TestParamInfo<Param>& info) {
  return info.param.name;
}

// The one parameter of a backend whose data, class `Data` (a `Backend` made from a BackendContext&),
// is made anew for each test:
//   INSTANTIATE_TEST_SUITE_P(Pg, DkimKeysContract, (backend_values<DkimKeysBackend, PgDkimKeysBackend>("postgresql")),
//                            backend_name<DkimKeysParam>);
template <class Backend, class Data>
auto backend_values(std::string name) {
  return ::testing::Values(BackendParamOf<Backend>{
      std::move(name), [](BackendContext& c) -> std::unique_ptr<Backend> { return std::make_unique<Data>(c); }});
}

// The fixture of a suite whose backend opens one object on its data (`Backend::open()`: a log, a
// key store): the data made per test, the object opened (reopen(): closed and opened again on the
// same data, to check durability), and run(): a call of the object run to completion.
template <class Backend, class Object>
class OpenedSuite : public ::testing::TestWithParam<BackendParamOf<Backend>> {
 protected:
  void SetUp() override {
    BackendContext context{io_, pool_, tmp_.path()};
    backend_ = this->GetParam().make(context);
    ASSERT_TRUE(backend_);
    reopen();
  }
  void TearDown() override {
    object_.reset();
    backend_.reset();
  }
  void reopen() {
    object_.reset();
    auto opened = backend_->open();
    ASSERT_TRUE(opened) << opened.error().message;
    object_ = std::move(*opened);
  }
  template <class T>
  T run(boost::asio::awaitable<T> op) {
    return drive_each(io_, std::move(op));
  }

  TempDir tmp_{"posthorn_contract"};
  // io_ outlives pool_: pool threads may drop completions bound to it until the pool has joined.
  boost::asio::io_context io_;
  BlockingPool pool_{2};
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Object> object_;
};

}  // namespace posthorn::testing
