#include "store/pg/pg_client.hpp"

// g++ 12 reports a false maybe-uninitialized on the Error inside a Result<void> returned from these
// coroutines' frames (the same false positive the Release build turns off globally, CMakeLists.txt).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "base/metrics.hpp"

namespace posthorn::store::pg {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// Asio registers a descriptor with epoll edge-triggered, and async_wait is never speculative: data
// that arrives between libpq's last read and the wait being queued raises no further edge. So every
// wait is also bounded by a short re-check period, after which poll() tells the truth; in the normal
// case the descriptor wins and the timer is cancelled. (The same period bounds how late a missed
// edge can make a query or a notification.)
constexpr auto kRecheck = std::chrono::milliseconds(2);

// The first line of a libpq message, without its trailing newline.
std::string first_line(const char* message) {
  std::string_view text = message ? message : "";
  text = text.substr(0, text.find('\n'));
  return std::string(text);
}

bool ready_now(int fd, bool for_write) {
  pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  return ::poll(&p, 1, 0) > 0;
}

}  // namespace

std::string redact_url(std::string_view url) {
  // URI form: scheme://user:password@host... -> scheme://user@host...
  if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
    const auto rest = scheme + 3;
    const auto at = url.find('@', rest);
    const auto slash = url.find('/', rest);
    if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash)) {
      const auto colon = url.find(':', rest);
      if (colon != std::string_view::npos && colon < at) {
        return std::string(url.substr(0, colon)) + std::string(url.substr(at));
      }
    }
    // A password given as a query parameter (?password=...) is cut with everything after it.
    if (const auto q = url.find("password="); q != std::string_view::npos) return std::string(url.substr(0, q)) + "password=...";
    return std::string(url);
  }
  // key=value form: the value of password= is replaced.
  std::string out(url);
  if (const auto p = out.find("password="); p != std::string::npos) {
    auto end = out.find(' ', p);
    out.replace(p, (end == std::string::npos ? out.size() : end) - p, "password=...");
  }
  return out;
}

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

Errc errc_from_sqlstate(std::string_view s) {
  if (s.size() != 5) return Errc::kInternal;
  const std::string_view cls = s.substr(0, 2);
  if (cls == "23" || cls == "40") return Errc::kConflict;           // integrity; transaction rollback
  if (cls == "08" || cls == "53" || cls == "57" || cls == "58") return Errc::kUnavailable;  // connection, resources, operator, system
  if (cls == "22") return Errc::kInvalid;                           // data exception
  return Errc::kInternal;                                           // syntax, access rules (42): a bug here
}

bool is_retryable(std::string_view s) { return s == "40001" || s == "40P01"; }

// ---- Rows ----

Rows::Rows(pg_result* result, Format format) : result_(result), format_(format) {}
Rows::Rows(Rows&& other) noexcept : result_(other.result_), format_(other.format_) { other.result_ = nullptr; }
Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    if (result_) PQclear(result_);
    result_ = other.result_;
    format_ = other.format_;
    other.result_ = nullptr;
  }
  return *this;
}
Rows::~Rows() {
  if (result_) PQclear(result_);
}

int Rows::size() const { return result_ ? PQntuples(result_) : 0; }
bool Rows::is_null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
std::string_view Rows::text(int row, int column) const {
  if (is_null(row, column)) return {};
  return {PQgetvalue(result_, row, column), static_cast<size_t>(PQgetlength(result_, row, column))};
}
int64_t Rows::integer(int row, int column) const {
  const std::string_view t = text(row, column);
  int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}
std::string Rows::bytes(int row, int column) const {
  const std::string_view t = text(row, column);
  if (format_ == Format::kBinary) return std::string(t);
  size_t n = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(std::string(t).c_str()), &n);
  if (!raw) return {};
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}
int64_t Rows::affected() const {
  if (!result_) return 0;
  const char* n = PQcmdTuples(result_);
  int64_t v = 0;
  if (n) std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

// ---- Connection ----

// The libpq socket as an Asio descriptor. libpq owns the file descriptor: it is released, never closed, here.
struct Connection::Socket {
  Socket(asio::any_io_executor ex, int fd) : fd(fd), desc(std::move(ex), fd) {}
  ~Socket() { desc.release(); }
  int fd;
  asio::posix::stream_descriptor desc;
};

Connection::Connection(asio::any_io_executor executor, ConnectOptions options)
    : executor_(asio::make_strand(std::move(executor))), options_(std::move(options)) {
  static std::atomic<uint64_t> next{1};
  serial_ = next++;
}

Connection::~Connection() {
  socket_.reset();
  if (conn_) PQfinish(conn_);
}

bool Connection::broken() const { return broken_ || !conn_ || PQstatus(conn_) != CONNECTION_OK; }

Error Connection::fail(Errc code, std::string_view what) {
  if (code == Errc::kUnavailable && !broken_) Metrics::global().db_connection_lost();
  broken_ = broken_ || code == Errc::kUnavailable;
  spdlog::warn("postgresql {}: {}", redact_url(options_.url), what);
  return make_error(code, code == Errc::kUnavailable ? "database unavailable" : "database error");
}

// The race of descriptor and timer below (`||`) cancels the loser from the winner's completion. Its
// completions run on the awaiting coroutine's executor, and on a multi-threaded io_context without a
// strand the two could run at once on two threads: the cancellation then called into a handler being
// destroyed (UBSan: "invalid vptr" in cancellation_signal). So the race runs in a coroutine of its
// own on the connection's strand; the caller awaits its result from wherever it runs.
asio::awaitable<bool> Connection::wait(bool for_write, Clock::time_point deadline) {
  co_return co_await asio::co_spawn(executor_, wait_on_strand(for_write, deadline), asio::use_awaitable);
}

asio::awaitable<bool> Connection::wait_on_strand(bool for_write, Clock::time_point deadline) {
  const int fd = PQsocket(conn_);
  if (fd < 0) {
    wait_error_ = "no socket";
    co_return false;
  }
  if (!socket_ || socket_->fd != fd) {
    socket_.reset();
    socket_ = std::make_unique<Socket>(executor_, fd);
  }
  for (;;) {
    if (Clock::now() >= deadline) {
      wait_error_ = "timed out";
      co_return false;
    }
    asio::steady_timer timer(executor_, std::min(deadline, Clock::now() + kRecheck));
    const auto type = for_write ? asio::posix::descriptor_base::wait_write : asio::posix::descriptor_base::wait_read;
    const auto which = co_await (socket_->desc.async_wait(type, kAwait) || timer.async_wait(kAwait));
    if (which.index() == 0) {
      if (auto [ec] = std::get<0>(which); ec) {
        wait_error_ = ec.message();
        co_return false;
      }
      co_return true;
    }
    if (ready_now(fd, for_write)) co_return true;
  }
}

Task<std::unique_ptr<Connection>> Connection::connect(asio::any_io_executor executor, const ConnectOptions& options) {
  std::unique_ptr<Connection> c(new Connection(executor, options));
  const std::string where = "cannot connect to " + redact_url(c->options_.url);
  c->conn_ = PQconnectStart(c->options_.url.c_str());
  if (!c->conn_) co_return make_error(Errc::kUnavailable, where + ": out of memory");
  if (PQstatus(c->conn_) == CONNECTION_BAD) {
    co_return make_error(Errc::kUnavailable, where + ": " + first_line(PQerrorMessage(c->conn_)));
  }
  const auto deadline = Clock::now() + c->options_.connect_timeout;
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) {
      co_return make_error(Errc::kUnavailable, where + ": " + first_line(PQerrorMessage(c->conn_)));
    }
    if (!co_await c->wait(state == PGRES_POLLING_WRITING, deadline)) {
      co_return make_error(Errc::kUnavailable, where + ": " + c->wait_error_);
    }
    state = PQconnectPoll(c->conn_);
  }
  if (PQsetnonblocking(c->conn_, 1) != 0) {
    co_return make_error(Errc::kUnavailable, where + ": " + first_line(PQerrorMessage(c->conn_)));
  }
  // The server's NOTICEs ("relation ... already exists, skipping" of a migration's IF NOT EXISTS)
  // go to the debug log, not to libpq's default of stderr, where they broke the one-line errors of
  // the admin commands.
  PQsetNoticeProcessor(
      c->conn_, [](void*, const char* message) { spdlog::debug("postgresql: {}", first_line(message)); }, nullptr);
  co_return c;
}

Task<void> Connection::send_and_flush() {
  const auto deadline = Clock::now() + options_.query_timeout;
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) co_return Result<void>{};
    if (r < 0) co_return fail(Errc::kUnavailable, first_line(PQerrorMessage(conn_)));
    // Output is pending: wait until the socket takes more (and read what the server sends meanwhile,
    // as libpq asks, so that neither side blocks on a full buffer).
    if (!co_await wait(true, deadline)) co_return fail(Errc::kUnavailable, wait_error_);
    if (PQconsumeInput(conn_) == 0) co_return fail(Errc::kUnavailable, first_line(PQerrorMessage(conn_)));
  }
}

Task<std::vector<pg_result*>> Connection::collect_results() {
  const auto deadline = Clock::now() + options_.query_timeout;
  std::vector<pg_result*> results;
  auto clear_all = [&] {
    for (auto* r : results) PQclear(r);
    results.clear();
  };
  for (;;) {
    if (PQconsumeInput(conn_) == 0) {
      clear_all();
      co_return fail(Errc::kUnavailable, first_line(PQerrorMessage(conn_)));
    }
    while (!PQisBusy(conn_)) {
      pg_result* r = PQgetResult(conn_);
      if (!r) co_return results;
      results.push_back(r);
    }
    if (!co_await wait(false, deadline)) {
      clear_all();
      co_return fail(Errc::kUnavailable, wait_error_);
    }
  }
}

Result<void> Connection::check(pg_result* result) {
  const ExecStatusType st = PQresultStatus(result);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return {};
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  last_sqlstate_ = state ? state : "";
  const Errc code = last_sqlstate_.empty() ? Errc::kUnavailable : errc_from_sqlstate(last_sqlstate_);
  // Constraint violations and serialization failures are expected outcomes the caller handles.
  if (code == Errc::kConflict) {
    spdlog::debug("postgresql: {} ({})", first_line(PQresultErrorMessage(result)), last_sqlstate_);
    return make_error(code, "conflict");
  }
  return fail(code, first_line(PQresultErrorMessage(result)) + " (" + last_sqlstate_ + ")");
}

Task<Rows> Connection::query(std::string_view sql, std::vector<Param> params, Format format) {
  if (broken()) co_return make_error(Errc::kUnavailable, "database unavailable");
  last_sqlstate_.clear();
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].is_null() ? nullptr : params[i].value().c_str();
    lengths[i] = static_cast<int>(params[i].value().size());
    formats[i] = params[i].binary() ? 1 : 0;
  }
  const std::string text(sql);
  if (PQsendQueryParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr, values.data(), lengths.data(),
                        formats.data(), static_cast<int>(format)) == 0) {
    co_return fail(Errc::kUnavailable, first_line(PQerrorMessage(conn_)));
  }
  if (auto sent = co_await send_and_flush(); !sent) co_return sent.error();
  auto results = co_await collect_results();
  if (!results) co_return results.error();
  // One statement gives one result; keep the last and report the first failure.
  std::optional<Error> failed;
  pg_result* last = nullptr;
  for (auto* r : *results) {
    if (!failed) {
      if (auto ok = check(r); !ok) failed = ok.error();
    }
    if (last) PQclear(last);
    last = r;
  }
  if (failed) {
    if (last) PQclear(last);
    co_return *failed;
  }
  co_return Rows(last, format);
}

Task<void> Connection::exec(std::string_view sql) {
  if (broken()) co_return make_error(Errc::kUnavailable, "database unavailable");
  last_sqlstate_.clear();
  const std::string text(sql);
  if (PQsendQuery(conn_, text.c_str()) == 0) co_return fail(Errc::kUnavailable, first_line(PQerrorMessage(conn_)));
  if (auto sent = co_await send_and_flush(); !sent) co_return sent.error();
  auto results = co_await collect_results();
  if (!results) co_return results.error();
  std::optional<Error> failed;
  for (auto* r : *results) {
    if (!failed) {
      if (auto ok = check(r); !ok) failed = ok.error();
    }
    PQclear(r);
  }
  if (failed) co_return *failed;
  co_return Result<void>{};
}

Task<Notification> Connection::next_notification() {
  for (;;) {
    if (broken()) co_return make_error(Errc::kUnavailable, "database unavailable");
    if (PQconsumeInput(conn_) == 0) co_return fail(Errc::kUnavailable, first_line(PQerrorMessage(conn_)));
    if (PGnotify* n = PQnotifies(conn_)) {
      Notification out{n->relname ? n->relname : "", n->extra ? n->extra : ""};
      PQfreemem(n);
      co_return out;
    }
    if (!co_await wait(false, Clock::time_point::max())) co_return fail(Errc::kUnavailable, wait_error_);
  }
}

Task<std::optional<Notification>> Connection::next_notification(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (broken()) co_return make_error(Errc::kUnavailable, "database unavailable");
    if (PQconsumeInput(conn_) == 0) co_return fail(Errc::kUnavailable, first_line(PQerrorMessage(conn_)));
    if (PGnotify* n = PQnotifies(conn_)) {
      std::optional<Notification> out = Notification{n->relname ? n->relname : "", n->extra ? n->extra : ""};
      PQfreemem(n);
      co_return out;
    }
    if (Clock::now() >= deadline) co_return std::optional<Notification>();
    if (!co_await wait(false, deadline)) {
      if (Clock::now() >= deadline) co_return std::optional<Notification>();  // the period ended
      co_return fail(Errc::kUnavailable, wait_error_);
    }
  }
}

// ---- Pool ----

// Each slot is an open connection or empty (nullptr); the channel holds the free ones.
struct Pool::Slots {
  using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code, std::unique_ptr<Connection>)>;
  Slots(asio::any_io_executor ex, size_t n) : free(std::move(ex), n) {}
  Channel free;
};

Pool::Pool(asio::any_io_executor executor, PoolOptions options)
    : executor_(std::move(executor)), options_(std::move(options)), slots_(std::make_unique<Slots>(executor_, options_.size)) {
  for (size_t i = 0; i < options_.size; ++i) slots_->free.try_send(boost::system::error_code{}, nullptr);
}

Pool::~Pool() = default;

uint64_t Pool::failed_connects() const {
  std::lock_guard lock(mu_);
  return failed_connects_;
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
  if (conn && conn->broken()) conn.reset();
  slots_->free.try_send(boost::system::error_code{}, std::move(conn));
}

Pool::Lease::~Lease() {
  if (pool_) pool_->give_back(std::move(conn_));
}

Task<Pool::Lease> Pool::acquire() {
  std::unique_ptr<Connection> conn;
  bool got = slots_->free.try_receive([&](boost::system::error_code, std::unique_ptr<Connection> c) { conn = std::move(c); });
  if (!got) {
    // Waits for a slot without a deadline: racing the receive against a timer lost the slot that
    // arrived after the timeout (seen in PgClient tests with Boost 1.81), so a bounded wait is left
    // for later; a query's own timeout still bounds how long any slot stays leased.
    auto [ec, c] = co_await slots_->free.async_receive(kAwait);
    if (ec) co_return make_error(Errc::kUnavailable, "database unavailable");
    conn = std::move(c);
  }
  Lease lease(this, std::move(conn));
  if (lease.conn_ && !lease.conn_->broken()) co_return lease;
  lease.conn_.reset();
  {
    std::lock_guard lock(mu_);
    if (Clock::now() < next_connect_) co_return make_error(Errc::kUnavailable, "database unavailable");
  }
  auto opened = co_await Connection::connect(executor_, options_.connect);
  std::lock_guard lock(mu_);
  Metrics::global().db_connect(bool(opened));
  if (!opened) {
    ++failed_connects_;
    backoff_ = std::clamp(backoff_ * 2, options_.min_backoff, options_.max_backoff);
    next_connect_ = Clock::now() + backoff_;
    spdlog::warn("{}", opened.error().message);
    co_return make_error(Errc::kUnavailable, "database unavailable");
  }
  backoff_ = std::chrono::milliseconds(0);
  next_connect_ = {};
  lease.conn_ = std::move(*opened);
  co_return lease;
}

}  // namespace posthorn::store::pg
