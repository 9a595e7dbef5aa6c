// bench_load: the load generator of `bench/run` (issue 7). One process, one thread, one Asio io_context,
// C++20 coroutines, so it can hold 10,000 connections (it raises RLIMIT_NOFILE to the hard limit).
// Subcommands:
//   login        fresh connection per login: connect, greeting, IMAP LOGIN or POP3 USER/PASS, LOGOUT/QUIT
//   imap-mix     per client: LOGIN, SELECT (the ramp: measured from when every client is in), then for
//                --duration seconds a seeded mix of FETCH header 30 %, FETCH body 15 %, STORE 20 %,
//                APPEND 10 %, EXPUNGE 10 %, IDLE 7 %, NOOP 7 %, LOGOUT + LOGIN + SELECT 1 %
//   imap-idle    open --connections authenticated connections that SELECT and IDLE (or only LOGIN with
//                --no-idle), print one "ready" JSON line, hold them until stdin reaches EOF, then close
//   imap-bigbox  one connection: LOGIN, then --iterations times SELECT + FETCH 1:* (FLAGS) and a SEARCH
//   pop3         per connection: USER/PASS, STAT, LIST, RETR x --retr (10), DELE 1, RSET, QUIT
//   smtp         --messages messages of --size bytes over --connections connections, PIPELINING
// Plain TCP or implicit TLS (--tls; certificates are not verified: the servers use self-signed ones).
// Output: one JSON object on stdout (ops/s, p50/p99 latency in ms, errors, per-operation figures).
// Protocol parsing is minimal but correct for what it sends: IMAP tagged replies, literals {n} inside
// untagged responses, continuation requests; POP3 multi-line replies up to CRLF.CRLF; SMTP multi-line
// replies (NNN- ... NNN ). Depends on Boost.Asio and OpenSSL only (not on Posthorn's libraries, so the
// same client drives every server). Single-threaded: the statistics need no locks.
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string cmd;
  std::string host = "127.0.0.1";
  std::vector<int> ports;  // --port A[,B...]: client i connects to ports[i % n] (several nodes)
  bool tls = false;
  std::string proto = "imap";  // login: imap or pop3
  int clients = 1;
  double duration = 5;
  std::string user_fmt = "bench%d@bench.test";
  int users = 1;
  int user_base = 1;
  std::string password = "benchpass";
  int connections = 100;
  int ramp = 200;  // connections being set up at once (imap-idle)
  bool no_idle = false;
  int messages = 1000;
  int size = 10240;
  std::string rcpt_domain = "bench.test";
  int iterations = 3;
  int retr = 10;  // RETRs per POP3 session
  std::string search = "FROM \"alice\"";
  unsigned seed = 1;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "bench_load: " << why << "\n"
            << "usage: bench_load {login|imap-mix|imap-idle|imap-bigbox|pop3|smtp} --port N[,N2...] [--host H] [--tls]\n"
               "  [--proto imap|pop3] [--clients C] [--duration S] [--users N] [--user-base B]\n"
               "  [--user-fmt 'bench%d@bench.test'] [--password P] [--connections C] [--ramp R] [--no-idle]\n"
               "  [--messages M] [--size BYTES] [--rcpt-domain D] [--iterations K] [--search CRITERIA] [--retr N] [--seed S]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  if (argc < 2) usage("no subcommand");
  Options o;
  o.cmd = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--host") o.host = val();
    else if (a == "--port") {
      std::string list = val();
      for (std::size_t at = 0; at <= list.size();) {
        auto comma = std::min(list.find(',', at), list.size());
        o.ports.push_back(std::stoi(list.substr(at, comma - at)));
        at = comma + 1;
      }
    }
    else if (a == "--tls") o.tls = true;
    else if (a == "--proto") o.proto = val();
    else if (a == "--clients") o.clients = std::stoi(val());
    else if (a == "--duration") o.duration = std::stod(val());
    else if (a == "--user-fmt") o.user_fmt = val();
    else if (a == "--users") o.users = std::stoi(val());
    else if (a == "--user-base") o.user_base = std::stoi(val());
    else if (a == "--password") o.password = val();
    else if (a == "--connections") o.connections = std::stoi(val());
    else if (a == "--ramp") o.ramp = std::stoi(val());
    else if (a == "--no-idle") o.no_idle = true;
    else if (a == "--messages") o.messages = std::stoi(val());
    else if (a == "--size") o.size = std::stoi(val());
    else if (a == "--rcpt-domain") o.rcpt_domain = val();
    else if (a == "--iterations") o.iterations = std::stoi(val());
    else if (a == "--retr") o.retr = std::stoi(val());
    else if (a == "--search") o.search = val();
    else if (a == "--seed") o.seed = static_cast<unsigned>(std::stoul(val()));
    else usage("unknown option " + a);
  }
  if (o.ports.empty()) usage("--port is required");
  for (int p : o.ports)
    if (p <= 0 || p > 65535) usage("--port: bad port " + std::to_string(p));
  if (o.clients < 1 || o.users < 1 || o.connections < 1 || o.ramp < 1) usage("counts must be >= 1");
  return o;
}

std::string user_name(const Options& o, int i) {
  // user_fmt holds one %d: the user number.
  std::string out;
  auto pos = o.user_fmt.find("%d");
  if (pos == std::string::npos) return o.user_fmt;
  out = o.user_fmt.substr(0, pos) + std::to_string(o.user_base + i % o.users) + o.user_fmt.substr(pos + 2);
  return out;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += c;
    }
  }
  return out;
}

// Latencies per operation name, errors, and the first error text (shown when a server refuses a command).
struct Stats {
  std::map<std::string, std::vector<double>> lat_ms;
  long errors = 0;
  std::string first_error;

  void add(const std::string& op, Clock::time_point t0) {
    lat_ms[op].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  void error(const std::string& what) {
    if (errors++ == 0) first_error = what;
  }
  static double pct(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  }
  std::string json(double wall_s, const std::string& extra) {
    std::vector<double> all;
    long ops = 0;
    std::string by;
    for (auto& [name, v] : lat_ms) {
      ops += static_cast<long>(v.size());
      all.insert(all.end(), v.begin(), v.end());
      char b[256];
      std::snprintf(b, sizeof b, "%s\"%s\":{\"count\":%zu,\"per_s\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}",
                    by.empty() ? "" : ",", name.c_str(), v.size(), static_cast<double>(v.size()) / wall_s,
                    pct(v, 50), pct(v, 99));
      by += b;
    }
    char b[256];
    std::snprintf(b, sizeof b, "{\"wall_s\":%.3f,\"ops\":%ld,\"ops_per_s\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%ld,",
                  wall_s, ops, static_cast<double>(ops) / wall_s, pct(all, 50), pct(all, 99), errors);
    return std::string(b) + "\"first_error\":\"" + json_escape(first_error) + "\",\"ops_by\":{" + by + "}" + extra +
           "}";
  }
};

// One client connection, plain or implicit TLS, with a line reader over a string buffer.
class Conn {
 public:
  Conn(asio::io_context& io, ssl::context& ctx, bool tls) : s_(io, ctx), tls_(tls) {}

  awaitable<void> connect(tcp::endpoint ep) {
    co_await s_.next_layer().async_connect(ep, use_awaitable);
    s_.next_layer().set_option(tcp::no_delay(true));
    if (tls_) co_await s_.async_handshake(ssl::stream_base::client, use_awaitable);
  }

  // One line without its CRLF. The buffer is consumed by moving pos_ and compacted only before a
  // read, so a reply of 100,000 lines in 64 KiB writes costs the client linear time (erasing the
  // front per line made a big FETCH reply quadratic, and charged the server's write size to it).
  awaitable<std::string> line() {
    std::size_t scanned = pos_;
    for (;;) {
      const std::size_t at = buf_.find("\r\n", scanned);
      if (at != std::string::npos) {
        std::string l = buf_.substr(pos_, at - pos_);
        pos_ = at + 2;
        co_return l;
      }
      scanned = buf_.size() > pos_ ? buf_.size() - 1 : pos_;  // a CR may end the buffer
      scanned -= pos_;
      co_await fill();
      scanned += pos_;
    }
  }

  // Reads and drops exactly n bytes (an IMAP literal).
  awaitable<void> skip(std::size_t n) {
    while (buf_.size() - pos_ < n) {
      n -= buf_.size() - pos_;
      pos_ = buf_.size();
      co_await fill();
    }
    pos_ += n;
  }

  awaitable<void> write(std::string data) {
    if (tls_) {
      co_await asio::async_write(s_, asio::buffer(data), use_awaitable);
    } else {
      co_await asio::async_write(s_.next_layer(), asio::buffer(data), use_awaitable);
    }
  }

  void close() {
    boost::system::error_code ec;
    s_.next_layer().close(ec);
  }

 private:
  // Drops the consumed bytes, then appends what one read returns (at least one byte, or throws).
  awaitable<void> fill() {
    buf_.erase(0, pos_);
    pos_ = 0;
    const std::size_t have = buf_.size();
    buf_.resize(have + 65536);
    std::size_t n = 0;
    try {
      if (tls_) {
        n = co_await s_.async_read_some(asio::buffer(buf_.data() + have, 65536), use_awaitable);
      } else {
        n = co_await s_.next_layer().async_read_some(asio::buffer(buf_.data() + have, 65536), use_awaitable);
      }
    } catch (...) {
      buf_.resize(have);
      throw;
    }
    buf_.resize(have + n);
  }

  ssl::stream<tcp::socket> s_;
  bool tls_;
  std::string buf_;
  std::size_t pos_ = 0;  // buf_[0, pos_) is consumed
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// ---------------------------------------------------------------- IMAP

struct ImapReply {
  bool ok = false;
  bool cont = false;  // a "+" continuation request arrived
  std::string line;   // the tagged line (or the "+" line)
  long exists = -1;   // last "* N EXISTS"
  std::string bye;    // "* BYE ..." if one came
  std::size_t bytes = 0;
};

// Reads responses until the tagged one for `tag` (or a continuation request when stop_on_cont).
awaitable<ImapReply> imap_read(Conn& c, std::string tag, bool stop_on_cont = false) {
  ImapReply r;
  for (;;) {
    std::string l = co_await c.line();
    r.bytes += l.size() + 2;
    // A line ending in {n} announces n literal bytes; the response goes on after them.
    while (!l.empty() && l.back() == '}') {
      auto open = l.rfind('{');
      if (open == std::string::npos) break;
      std::string num = l.substr(open + 1, l.size() - open - 2);
      if (!num.empty() && num.back() == '+') num.pop_back();
      if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) break;
      std::size_t n = std::stoul(num);
      co_await c.skip(n);
      r.bytes += n;
      l = co_await c.line();
      r.bytes += l.size() + 2;
    }
    if (starts_with(l, tag + " ")) {
      r.ok = starts_with(std::string_view(l).substr(tag.size() + 1), "OK");
      r.line = l;
      co_return r;
    }
    if (starts_with(l, "+")) {
      if (stop_on_cont) {
        r.cont = true;
        r.line = l;
        co_return r;
      }
      throw std::runtime_error("unexpected continuation: " + l);
    }
    if (starts_with(l, "* ") && l.size() > 9 && l.ends_with(" EXISTS")) r.exists = std::atol(l.c_str() + 2);
    if (starts_with(l, "* BYE")) r.bye = l;  // LOGOUT's; any other command then fails at end of stream
  }
}

class Imap {
 public:
  explicit Imap(Conn& c) : c_(c) {}
  // Sends one command (CRLF added) and reads to its tagged reply; a NO/BAD throws with the reply text.
  awaitable<ImapReply> cmd(std::string text, bool must_ok = true) {
    std::string tag = "a" + std::to_string(++n_);
    co_await c_.write(tag + " " + text + "\r\n");
    ImapReply r = co_await imap_read(c_, tag);
    if (must_ok && !r.ok) throw std::runtime_error(first_word(text) + ": " + r.line);
    co_return r;
  }
  awaitable<void> greeting() {
    std::string g = co_await c_.line();
    if (!starts_with(g, "* OK")) throw std::runtime_error("greeting: " + g);
  }
  awaitable<void> login(std::string user, std::string pass) {
    auto task = cmd("LOGIN \"" + user + "\" \"" + pass + "\"");
    co_await std::move(task);
  }
  // APPEND with a synchronising literal: wait for "+", then send the message.
  awaitable<ImapReply> append(std::string mailbox, std::string msg) {
    std::string tag = "a" + std::to_string(++n_);
    co_await c_.write(tag + " APPEND " + mailbox + " {" + std::to_string(msg.size()) + "}\r\n");
    ImapReply r = co_await imap_read(c_, tag, true);
    if (!r.cont) throw std::runtime_error("APPEND: " + r.line);
    co_await c_.write(msg + "\r\n");
    ImapReply done = co_await imap_read(c_, tag);
    if (!done.ok) throw std::runtime_error("APPEND: " + done.line);
    co_return done;
  }
  // IDLE until the continuation request; idle_done() ends it.
  awaitable<void> idle_start() {
    idle_tag_ = "a" + std::to_string(++n_);
    co_await c_.write(idle_tag_ + " IDLE\r\n");
    ImapReply r = co_await imap_read(c_, idle_tag_, true);
    if (!r.cont) throw std::runtime_error("IDLE: " + r.line);
  }
  awaitable<void> idle_done() {
    co_await c_.write("DONE\r\n");
    ImapReply r = co_await imap_read(c_, idle_tag_);
    if (!r.ok) throw std::runtime_error("IDLE: " + r.line);
  }
  // LOGOUT: "* BYE" then the tagged OK [RFC 9051 §6.1.3]; a server that closes right after BYE is fine too.
  awaitable<void> logout() {
    std::string tag = "a" + std::to_string(++n_);
    co_await c_.write(tag + " LOGOUT\r\n");
    bool bye = false;
    for (;;) {
      std::string l;
      try {
        l = co_await c_.line();
      } catch (const boost::system::system_error&) {
        if (bye) co_return;
        throw;
      }
      if (starts_with(l, "* BYE")) bye = true;
      if (starts_with(l, tag + " ")) co_return;
    }
  }
  static std::string first_word(const std::string& s) { return s.substr(0, s.find(' ')); }

 private:
  Conn& c_;
  long n_ = 0;
  std::string idle_tag_;
};

// A small deterministic message for APPEND and SMTP, `size` bytes of body.
std::string make_message(std::mt19937& rng, int size, const std::string& to) {
  std::string m = "From: Load Generator <load@bench.test>\r\nTo: <" + to + ">\r\nSubject: bench " +
                  std::to_string(rng()) + "\r\nMessage-ID: <" + std::to_string(rng()) + "." + std::to_string(rng()) +
                  "@bench.test>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  static const char* words[] = {"lorem", "ipsum", "dolor", "sit", "amet", "mail", "server", "bench", "post", "horn"};
  std::string line;
  while (static_cast<int>(m.size()) < size) {
    line += words[rng() % 10];
    line += ' ';
    if (line.size() > 70) {
      m += line + "\r\n";
      line.clear();
    }
  }
  m += line + "\r\n";
  return m;
}

// ---------------------------------------------------------------- runners

struct Env {
  // The endpoint of client `id`: with several ports (nodes) the clients are spread round-robin.
  const tcp::endpoint& ep(int id) const { return eps[static_cast<std::size_t>(id) % eps.size()]; }
  asio::io_context io;
  ssl::context ctx{ssl::context::tls_client};
  std::vector<tcp::endpoint> eps;  // one per --port
  Options o;
  Stats st;
  Clock::time_point deadline;
  // imap-mix: clients log in and SELECT first (the ramp, not measured); the measured phase starts when
  // all are in, so a server with slow logins is not measured on its login queue alone.
  bool measuring = true;
  int ramped = 0;
  Clock::time_point measure_start;
};

// After a failed session: a refusing server must not be hammered in a tight loop.
awaitable<void> back_off(Env& e) {
  asio::steady_timer t(e.io, std::chrono::milliseconds(50));
  co_await t.async_wait(use_awaitable);
}

bool time_left(Env& e) { return !e.measuring || Clock::now() < e.deadline; }

void record(Env& e, const std::string& op, Clock::time_point t0) {
  if (e.measuring) e.st.add(op, t0);
}

awaitable<void> mix_coordinator(Env& e) {
  auto give_up = Clock::now() + std::chrono::seconds(300);
  while (e.ramped < e.o.clients && Clock::now() < give_up) {
    asio::steady_timer t(e.io, std::chrono::milliseconds(5));
    co_await t.async_wait(use_awaitable);
  }
  e.measure_start = Clock::now();
  e.deadline = e.measure_start + std::chrono::milliseconds(static_cast<long>(e.o.duration * 1000));
  e.measuring = true;
}

awaitable<void> login_client(Env& e, int id) {
  int n = 0;
  while (time_left(e)) {
    Conn c(e.io, e.ctx, e.o.tls);
    auto t0 = Clock::now();
    try {
      co_await c.connect(e.ep(id));
      std::string user = user_name(e.o, id + n++ * e.o.clients);
      if (e.o.proto == "pop3") {
        std::string g = co_await c.line();
        if (!starts_with(g, "+OK")) throw std::runtime_error("greeting: " + g);
        co_await c.write("USER " + user + "\r\n");
        std::string r = co_await c.line();
        if (!starts_with(r, "+OK")) throw std::runtime_error("USER: " + r);
        co_await c.write("PASS " + e.o.password + "\r\n");
        r = co_await c.line();
        if (!starts_with(r, "+OK")) throw std::runtime_error("PASS: " + r);
        e.st.add("login", t0);
        co_await c.write("QUIT\r\n");
        r = co_await c.line();
      } else {
        Imap imap(c);
        co_await imap.greeting();
        co_await imap.login(user, e.o.password);
        e.st.add("login", t0);
        co_await imap.logout();
      }
    } catch (const std::exception& ex) {
      e.st.error(ex.what());
    }
    c.close();
  }
}

// imap-mix: each client owns one mailbox (user base+id), keeps its message count from EXISTS, appends
// messages and expunges its own appended ones so the mailbox size stays stable over a run.
awaitable<void> mix_client(Env& e, int id) {
  std::mt19937 rng(e.o.seed * 7919u + static_cast<unsigned>(id));
  std::string user = user_name(e.o, id);
  long appended = 0;
  bool ramped = false;
  while (time_left(e)) {
    Conn c(e.io, e.ctx, e.o.tls);
    bool failed = false;
    try {
      auto t0 = Clock::now();
      co_await c.connect(e.ep(id));
      Imap imap(c);
      co_await imap.greeting();
      co_await imap.login(user, e.o.password);
      record(e, "LOGIN", t0);
      t0 = Clock::now();
      ImapReply sel = co_await imap.cmd("SELECT INBOX");
      record(e, "SELECT", t0);
      long exists = sel.exists;
      if (exists < 1) throw std::runtime_error("SELECT: mailbox is empty (" + sel.line + ")");
      if (!ramped) {
        ramped = true;
        ++e.ramped;
        while (!e.measuring) {
          asio::steady_timer t(e.io, std::chrono::milliseconds(5));
          co_await t.async_wait(use_awaitable);
        }
      }
      bool relogin = false;
      while (time_left(e) && !relogin) {
        unsigned pick = rng() % 100;
        long msg = 1 + static_cast<long>(rng() % static_cast<unsigned long>(exists));
        t0 = Clock::now();
        if (pick < 30) {
          auto task = imap.cmd("FETCH " + std::to_string(msg) + " (UID FLAGS BODY.PEEK[HEADER])");
          co_await std::move(task);
          record(e, "FETCH-HEADER", t0);
        } else if (pick < 45) {
          auto task = imap.cmd("FETCH " + std::to_string(msg) + " BODY.PEEK[]");
          co_await std::move(task);
          record(e, "FETCH-BODY", t0);
        } else if (pick < 65) {
          auto task = imap.cmd("STORE " + std::to_string(msg) + ((rng() & 1) ? " +" : " -") + "FLAGS (\\Seen)");
          co_await std::move(task);
          record(e, "STORE", t0);
        } else if (pick < 75) {
          std::string m = make_message(rng, 2000 + static_cast<int>(rng() % 8000), user);
          ImapReply r = co_await imap.append("INBOX", m);
          record(e, "APPEND", t0);
          ++appended;
          // The new message is announced by EXISTS here or at the next command.
          auto task = imap.cmd("NOOP");
          ImapReply n = co_await std::move(task);
          exists = std::max({exists + 1, r.exists, n.exists});
        } else if (pick < 85 && appended > 0) {
          // Expunge the last message (one this client appended earlier in the run or a previous run).
          auto t1 = imap.cmd("STORE " + std::to_string(exists) + " +FLAGS.SILENT (\\Deleted)");
          co_await std::move(t1);
          auto t2 = imap.cmd("EXPUNGE");
          co_await std::move(t2);
          record(e, "EXPUNGE", t0);
          --exists;
          --appended;
        } else if (pick < 92) {
          co_await imap.idle_start();
          co_await imap.idle_done();
          record(e, "IDLE", t0);
        } else if (pick < 99) {
          auto task = imap.cmd("NOOP");
          co_await std::move(task);
          record(e, "NOOP", t0);
        } else {
          relogin = true;
        }
      }
      t0 = Clock::now();
      co_await imap.logout();
      record(e, "LOGOUT", t0);
    } catch (const std::exception& ex) {
      e.st.error(ex.what());
      failed = true;
    }
    c.close();
    if (failed) co_await back_off(e);
  }
}

awaitable<void> pop3_expect(Conn& c, std::string what) {
  std::string r = co_await c.line();
  if (!starts_with(r, "+OK")) throw std::runtime_error(what + ": " + r);
}

// Reads a multi-line POP3 reply body to the terminating "." line; returns its bytes.
awaitable<std::size_t> pop3_multiline(Conn& c) {
  std::size_t bytes = 0;
  for (;;) {
    std::string l = co_await c.line();
    if (l == ".") co_return bytes;
    bytes += l.size() + 2;
  }
}

awaitable<void> pop3_client(Env& e, int id) {
  std::mt19937 rng(e.o.seed * 104729u + static_cast<unsigned>(id));
  std::string user = user_name(e.o, id);
  while (time_left(e)) {
    Conn c(e.io, e.ctx, e.o.tls);
    bool failed = false;
    try {
      auto t0 = Clock::now();
      co_await c.connect(e.ep(id));
      co_await pop3_expect(c, "greeting");
      co_await c.write("USER " + user + "\r\n");
      co_await pop3_expect(c, "USER");
      co_await c.write("PASS " + e.o.password + "\r\n");
      co_await pop3_expect(c, "PASS");
      e.st.add("login", t0);
      t0 = Clock::now();
      co_await c.write("STAT\r\n");
      std::string stat = co_await c.line();
      if (!starts_with(stat, "+OK ")) throw std::runtime_error("STAT: " + stat);
      long count = std::atol(stat.c_str() + 4);
      e.st.add("STAT", t0);
      if (count < 1) throw std::runtime_error("STAT: mailbox is empty");
      t0 = Clock::now();
      co_await c.write("LIST\r\n");
      co_await pop3_expect(c, "LIST");
      co_await pop3_multiline(c);
      e.st.add("LIST", t0);
      for (int i = 0; i < e.o.retr; ++i) {
        long msg = 1 + static_cast<long>(rng() % static_cast<unsigned long>(count));
        t0 = Clock::now();
        co_await c.write("RETR " + std::to_string(msg) + "\r\n");
        co_await pop3_expect(c, "RETR");
        co_await pop3_multiline(c);
        e.st.add("RETR", t0);
      }
      // DELE then RSET: exercises deletion without shrinking the mailbox between rounds.
      t0 = Clock::now();
      co_await c.write("DELE 1\r\n");
      co_await pop3_expect(c, "DELE");
      co_await c.write("RSET\r\n");
      co_await pop3_expect(c, "RSET");
      e.st.add("DELE+RSET", t0);
      t0 = Clock::now();
      co_await c.write("QUIT\r\n");
      co_await pop3_expect(c, "QUIT");
      e.st.add("QUIT", t0);
    } catch (const std::exception& ex) {
      e.st.error(ex.what());
      failed = true;
    }
    c.close();
    if (failed) co_await back_off(e);
  }
}

// Reads one (possibly multi-line) SMTP reply; returns its code.
awaitable<int> smtp_reply(Conn& c, std::string* text = nullptr) {
  for (;;) {
    std::string l = co_await c.line();
    if (l.size() < 3) throw std::runtime_error("SMTP: short reply " + l);
    if (text) *text += l + "\n";
    if (l.size() == 3 || l[3] == ' ') co_return std::atoi(l.substr(0, 3).c_str());
  }
}

awaitable<void> smtp_expect(Conn& c, int code, std::string what) {
  std::string text;
  int got = co_await smtp_reply(c, &text);
  if (got != code) throw std::runtime_error(what + ": " + text);
}

// Dot-stuffing: a body line starting with "." gets another "." [RFC 5321 §4.5.2].
std::string dot_stuff(const std::string& m) {
  std::string out;
  out.reserve(m.size() + 16);
  bool bol = true;
  for (char ch : m) {
    if (bol && ch == '.') out += '.';
    out += ch;
    bol = ch == '\n';
  }
  return out;
}

awaitable<void> smtp_client(Env& e, int id, int count) {
  std::mt19937 rng(e.o.seed * 15485863u + static_cast<unsigned>(id));
  Conn c(e.io, e.ctx, e.o.tls);
  try {
    co_await c.connect(e.ep(id));
    co_await smtp_expect(c, 220, "greeting");
    co_await c.write("EHLO load.bench.test\r\n");
    std::string ehlo;
    int code = co_await smtp_reply(c, &ehlo);
    if (code != 250) throw std::runtime_error("EHLO: " + ehlo);
    bool pipelining = ehlo.find("PIPELINING") != std::string::npos;
    for (int i = 0; i < count; ++i) {
      int u = static_cast<int>(rng() % static_cast<unsigned>(e.o.users));
      std::string rcpt = user_name(e.o, u);
      std::string msg = dot_stuff(make_message(rng, e.o.size, rcpt));
      auto t0 = Clock::now();
      std::string env = "MAIL FROM:<load@bench.test>\r\nRCPT TO:<" + rcpt + ">\r\n";
      if (pipelining) {
        co_await c.write(env + "DATA\r\n");
        co_await smtp_expect(c, 250, "MAIL");
        co_await smtp_expect(c, 250, "RCPT");
        co_await smtp_expect(c, 354, "DATA");
      } else {
        co_await c.write("MAIL FROM:<load@bench.test>\r\n");
        co_await smtp_expect(c, 250, "MAIL");
        co_await c.write("RCPT TO:<" + rcpt + ">\r\n");
        co_await smtp_expect(c, 250, "RCPT");
        co_await c.write("DATA\r\n");
        co_await smtp_expect(c, 354, "DATA");
      }
      co_await c.write(msg + ".\r\n");
      co_await smtp_expect(c, 250, "end of data");
      e.st.add("message", t0);
    }
    co_await c.write("QUIT\r\n");
    co_await smtp_expect(c, 221, "QUIT");
  } catch (const std::exception& ex) {
    e.st.error(ex.what());
  }
  c.close();
}

// imap-idle: each connection logs in, SELECTs and IDLEs, then waits on the shared hold timer.
struct IdleState {
  int ready = 0;
  int failed = 0;
  int in_setup = 0;
  std::unique_ptr<asio::steady_timer> hold;  // cancelled when stdin reaches EOF
};

awaitable<void> idle_conn(Env& e, IdleState& s, int id) {
  auto conn = std::make_shared<Conn>(e.io, e.ctx, e.o.tls);
  Conn& c = *conn;
  // A connection not set up within 120 s is closed (its pending read fails) and counted as failed, so
  // one stuck connection cannot keep the "ready" line from ever being printed.
  auto watchdog = std::make_shared<asio::steady_timer>(e.io, std::chrono::seconds(120));
  watchdog->async_wait([conn](const boost::system::error_code& ec) {
    if (!ec) conn->close();
  });
  bool ok = false;
  try {
    auto t0 = Clock::now();
    co_await c.connect(e.ep(id));
    Imap imap(c);
    co_await imap.greeting();
    co_await imap.login(user_name(e.o, id), e.o.password);
    if (!e.o.no_idle) {
      auto task = imap.cmd("SELECT INBOX");
      co_await std::move(task);
      co_await imap.idle_start();
    }
    e.st.add("setup", t0);
    watchdog->cancel();
    ok = true;
    ++s.ready;
    --s.in_setup;
    boost::system::error_code ec;
    co_await s.hold->async_wait(asio::redirect_error(use_awaitable, ec));
  } catch (const std::exception& ex) {
    e.st.error(ex.what());
  }
  if (!ok) {
    watchdog->cancel();
    ++s.failed;
    --s.in_setup;
  }
  c.close();
}

awaitable<void> idle_main(Env& e, IdleState& s) {
  for (int i = 0; i < e.o.connections; ++i) {
    while (s.in_setup >= e.o.ramp) {
      asio::steady_timer t(e.io, std::chrono::milliseconds(2));
      co_await t.async_wait(use_awaitable);
    }
    ++s.in_setup;
    asio::co_spawn(e.io, idle_conn(e, s, i), asio::detached);
  }
  while (s.in_setup > 0) {
    asio::steady_timer t(e.io, std::chrono::milliseconds(5));
    co_await t.async_wait(use_awaitable);
  }
  std::printf("{\"ready\":%d,\"failed\":%d,\"first_error\":\"%s\"}\n", s.ready, s.failed,
              json_escape(e.st.first_error).c_str());
  std::fflush(stdout);
}

awaitable<void> bigbox(Env& e) {
  Conn c(e.io, e.ctx, e.o.tls);
  try {
    co_await c.connect(e.ep(0));
    Imap imap(c);
    co_await imap.greeting();
    co_await imap.login(user_name(e.o, 0), e.o.password);
    for (int i = 0; i < e.o.iterations; ++i) {
      auto t0 = Clock::now();
      ImapReply sel = co_await imap.cmd("SELECT INBOX");
      ImapReply f = co_await imap.cmd("FETCH 1:* (FLAGS)");
      e.st.add("SELECT+FETCH-FLAGS", t0);
      t0 = Clock::now();
      auto task = imap.cmd("SEARCH " + e.o.search);
      co_await std::move(task);
      e.st.add("SEARCH", t0);
      if (i == 0) std::fprintf(stderr, "bigbox: %ld messages, FETCH FLAGS %zu bytes\n", sel.exists, f.bytes);
    }
    co_await imap.logout();
  } catch (const std::exception& ex) {
    e.st.error(ex.what());
  }
  c.close();
}

void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Env e;
  e.o = parse(argc, argv);
  raise_nofile();
  e.ctx.set_verify_mode(ssl::verify_none);
  for (int p : e.o.ports) e.eps.emplace_back(asio::ip::make_address(e.o.host), static_cast<unsigned short>(p));
  e.deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(e.o.duration * 1000));
  auto start = Clock::now();
  std::string extra;
  IdleState idle;
  std::thread stdin_watch;
  if (e.o.cmd == "login") {
    for (int i = 0; i < e.o.clients; ++i) asio::co_spawn(e.io, login_client(e, i), asio::detached);
  } else if (e.o.cmd == "imap-mix") {
    e.measuring = false;
    asio::co_spawn(e.io, mix_coordinator(e), asio::detached);
    for (int i = 0; i < e.o.clients; ++i) asio::co_spawn(e.io, mix_client(e, i), asio::detached);
  } else if (e.o.cmd == "pop3") {
    for (int i = 0; i < e.o.clients; ++i) asio::co_spawn(e.io, pop3_client(e, i), asio::detached);
  } else if (e.o.cmd == "smtp") {
    int per = (e.o.messages + e.o.connections - 1) / e.o.connections;
    for (int i = 0, left = e.o.messages; i < e.o.connections && left > 0; ++i, left -= per)
      asio::co_spawn(e.io, smtp_client(e, i, std::min(per, left)), asio::detached);
  } else if (e.o.cmd == "imap-idle") {
    idle.hold = std::make_unique<asio::steady_timer>(e.io, Clock::time_point::max());
    asio::co_spawn(e.io, idle_main(e, idle), asio::detached);
    // The harness measures the server while the connections are held, then closes our stdin.
    auto guard = asio::make_work_guard(e.io);
    stdin_watch = std::thread([&e, &idle, g = std::move(guard)]() mutable {
      std::string l;
      while (std::getline(std::cin, l)) {
      }
      asio::post(e.io, [&idle, g = std::move(g)]() mutable {
        idle.hold->cancel();
        g.reset();
      });
    });
  } else if (e.o.cmd == "imap-bigbox") {
    asio::co_spawn(e.io, bigbox(e), asio::detached);
  } else {
    usage("unknown subcommand " + e.o.cmd);
  }
  e.io.run();
  if (stdin_watch.joinable()) stdin_watch.join();
  double wall = std::chrono::duration<double>(Clock::now() - start).count();
  if (e.o.cmd == "imap-mix") wall = std::chrono::duration<double>(Clock::now() - e.measure_start).count();
  if (e.o.cmd == "imap-idle")
    extra = ",\"ready\":" + std::to_string(idle.ready) + ",\"failed\":" + std::to_string(idle.failed);
  std::printf("%s\n", e.st.json(wall, extra).c_str());
  return 0;
}
