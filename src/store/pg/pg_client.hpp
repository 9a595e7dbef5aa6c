// The PostgreSQL client the PostgreSQL backend is built on: libpq in its non-blocking mode driven by
// Asio, so a query waits on the database's socket like any other I/O and never occupies a thread of
// the blocking pool (issue 20: a second backend without a blocking pool).
//
// - Connection: one libpq connection. connect() and query() are coroutines; one query at a time per
//   connection (the Pool hands a connection to one coroutine at a time). A failed connection is
//   marked broken and never reused.
// - Pool: a fixed number of slots, each empty or holding a live connection; acquire() waits for a
//   slot, opens a connection into an empty one (with backoff after a failed connect), and the Lease
//   gives the slot back when it goes out of scope. Thread-safe (a concurrent channel of slots).
// - Errors: SQLSTATE classes become Errc (unique/foreign key violations and serialization failures
//   kConflict, connection and resource errors kUnavailable, data errors kInvalid, the rest kInternal).
//   libpq's text is logged here and never put in an Error, except connect() failures, whose cause an
//   administrator needs ("cannot connect to postgresql://user@host:5432/db: connection refused"); the
//   URL there is always shown without its password (redact_url).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

struct pg_conn;
struct pg_result;

namespace posthorn::store::pg {

template <class T>
using Task = boost::asio::awaitable<Result<T>>;

// A connection URL (postgresql://user:secret@host/db or key=value form) without its password, for
// logs and error messages.
std::string redact_url(std::string_view url);

// Maps a five-character SQLSTATE to an Errc ("" or unknown: kInternal).
Errc errc_from_sqlstate(std::string_view sqlstate);

// True for the SQLSTATEs after which the same transaction may succeed when run again
// (serialization_failure 40001, deadlock_detected 40P01).
bool is_retryable(std::string_view sqlstate);

// One query parameter. Text is sent as text; bytes as binary (for bytea: any octets, NUL included).
class Param {
 public:
  static Param text(std::string_view value) { return Param(std::string(value), false, false); }
  static Param bytes(std::string_view value) { return Param(std::string(value), true, false); }
  static Param integer(int64_t value) { return Param(std::to_string(value), false, false); }
  static Param null() { return Param({}, false, true); }
  // An optional text value: NULL when empty.
  static Param text_or_null(std::string_view value) { return value.empty() ? null() : text(value); }

  const std::string& value() const { return value_; }
  bool binary() const { return binary_; }
  bool is_null() const { return null_; }

 private:
  Param(std::string value, bool binary, bool null) : value_(std::move(value)), binary_(binary), null_(null) {}
  std::string value_;
  bool binary_ = false;
  bool null_ = false;
};

// A PostgreSQL array literal of text values, for a $n::text[] parameter: each value double-quoted,
// with '"' and '\' escaped.
std::string text_array(const std::vector<std::string>& values);

// How a query's columns come back: as text (numbers, text; bytea then arrives hex-escaped and bytes()
// decodes it) or as binary (only for queries that select bytea or text columns, whose binary form is
// their octets).
enum class Format { kText = 0, kBinary = 1 };

// The rows of one query result. Rows and columns are 0-based.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result, Format format);
  Rows(Rows&&) noexcept;
  Rows& operator=(Rows&&) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows();

  int size() const;
  bool empty() const { return size() == 0; }
  bool is_null(int row, int column) const;
  std::string_view text(int row, int column) const;  // "" for NULL; raw octets in binary format
  int64_t integer(int row, int column) const;        // text format; 0 for NULL
  std::string bytes(int row, int column) const;      // bytea octets in either format
  // Rows touched by INSERT/UPDATE/DELETE (the command tag's count).
  int64_t affected() const;

 private:
  pg_result* result_ = nullptr;
  Format format_ = Format::kText;
};

// A LISTEN notification.
struct Notification {
  std::string channel;
  std::string payload;
};

struct ConnectOptions {
  std::string url;
  std::chrono::milliseconds connect_timeout{5000};
  // A query that has not answered by then breaks its connection (the server aborts its transaction).
  std::chrono::milliseconds query_timeout{30000};
};

class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // (options by reference: g++ 12 destroys a by-value aggregate temporary of a co_await expression twice;
  // it is copied before the first suspension.)
  static Task<std::unique_ptr<Connection>> connect(boost::asio::any_io_executor executor, const ConnectOptions& options);

  // One statement with $1.. parameters. Errors: the SQLSTATE's Errc; kUnavailable when the
  // connection breaks or times out (the connection is then broken()).
  Task<Rows> query(std::string_view sql, std::vector<Param> params = {}, Format format = Format::kText);
  // The same with the parameters listed: query("... $1, $2", Param::text(a), Param::integer(b)).
  // (Not a braced list: GCC 12 rejects an initializer_list inside a co_await expression.)
  template <class... P>
  Task<Rows> query(std::string_view sql, Param first, P... rest) {
    std::vector<Param> params;
    params.reserve(1 + sizeof...(rest));
    params.push_back(std::move(first));
    (params.push_back(std::move(rest)), ...);
    return query(sql, std::move(params), Format::kText);
  }
  // Columns in binary form (bytea octets without hex escaping).
  template <class... P>
  Task<Rows> query_binary(std::string_view sql, P... params) {
    std::vector<Param> list;
    (list.push_back(std::move(params)), ...);
    return query(sql, std::move(list), Format::kBinary);
  }
  // Statements without parameters, several separated by ';' (schema scripts, BEGIN/COMMIT).
  Task<void> exec(std::string_view sql);
  // Waits until a notification for a channel this connection LISTENs on arrives (no timeout; cancel by
  // closing the connection).
  Task<Notification> next_notification();
  // The same, waiting at most `timeout`: nullopt when none arrived by then (a listener that must
  // also notice that it is asked to stop).
  Task<std::optional<Notification>> next_notification(std::chrono::milliseconds timeout);

  // The SQLSTATE of the last failed statement ("" when it failed without one, such as a lost connection).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  bool broken() const;
  // Unique per connection made by this process (from 1): tells a reconnected connection from the
  // one before it, whose session state (advisory locks, LISTENs) went with it.
  uint64_t serial() const { return serial_; }

 private:
  struct Socket;
  Connection(boost::asio::any_io_executor executor, ConnectOptions options);
  Task<void> send_and_flush();
  // Waits until the socket is ready; false on timeout or error (the reason in wait_error_).
  boost::asio::awaitable<bool> wait(bool for_write, std::chrono::steady_clock::time_point deadline);
  // The body of wait(), run on the connection's strand (executor_).
  boost::asio::awaitable<bool> wait_on_strand(bool for_write, std::chrono::steady_clock::time_point deadline);
  Task<std::vector<pg_result*>> collect_results();
  Error fail(Errc code, std::string_view what);
  Result<void> check(pg_result* result);

  boost::asio::any_io_executor executor_;
  ConnectOptions options_;
  pg_conn* conn_ = nullptr;
  std::unique_ptr<Socket> socket_;
  std::string last_sqlstate_;
  std::string wait_error_;
  bool broken_ = false;
  uint64_t serial_ = 0;
};

struct PoolOptions {
  ConnectOptions connect;
  std::size_t size = 8;
  // After a failed connect, new connects wait this long, doubling up to max_backoff.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

class Pool {
 public:
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) { other.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Pool(boost::asio::any_io_executor executor, PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  Task<Lease> acquire();
  const PoolOptions& options() const { return options_; }
  // Connects that failed since the pool was made (for metrics and tests).
  uint64_t failed_connects() const;

 private:
  struct Slots;
  void give_back(std::unique_ptr<Connection> conn);

  boost::asio::any_io_executor executor_;
  PoolOptions options_;
  std::unique_ptr<Slots> slots_;
  mutable std::mutex mu_;  // guards the backoff state below
  std::chrono::steady_clock::time_point next_connect_{};
  std::chrono::milliseconds backoff_{0};
  uint64_t failed_connects_ = 0;
};

}  // namespace posthorn::store::pg
