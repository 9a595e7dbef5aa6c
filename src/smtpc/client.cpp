// SmtpClient implementation. Notes:
// - Replies are read line by line through Connection::read_line (8 KiB per line at most, a timeout
//   per reply) into a ReplyParser; a malformed reply or a network error makes the client unusable
//   and becomes a code-0 Reply with a local enhanced code (4.4.2), which callers treat as temporary.
// - With PIPELINING, MAIL, every RCPT and DATA go out in one write and the replies are read in order
//   [RFC 2920 §3.1]. When DATA is answered 354 although no recipient was accepted, an empty message
//   (".") is sent and its reply ignored, as RFC 2920 §3.1 asks; otherwise RSET.
// - DATA bytes pass through DataEncoder and are written in blocks of about 64 KiB, each under the
//   data-block timeout [RFC 5321 §4.5.3.2.5]; the final "." waits up to the data-done timeout.
#include "smtpc/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "base/base64.hpp"
#include "base/log.hpp"
#include "proto/smtp/data_writer.hpp"

namespace posthorn::smtpc {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

constexpr size_t kMaxReplyLine = 8192;
constexpr size_t kWriteBlock = 64 * 1024;

asio::awaitable<Result<std::string>> StringReader::read() {
  const size_t n = std::min(chunk_, bytes_->size() - pos_);
  std::string out = bytes_->substr(pos_, n);
  pos_ += n;
  co_return out;
}

MessageOpener StringReader::opener(std::string bytes, size_t chunk) {
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  return [shared, chunk]() -> Result<std::unique_ptr<MessageReader>> {
    return std::unique_ptr<MessageReader>(new StringReader(shared, chunk));
  };
}

SmtpClient::SmtpClient(net::Connection conn, std::string mx_host, std::string remote_ip, Timeouts timeouts)
    : conn_(std::move(conn)), mx_host_(std::move(mx_host)), remote_ip_(std::move(remote_ip)), timeouts_(timeouts) {}

SmtpClient::~SmtpClient() = default;

asio::awaitable<std::pair<std::unique_ptr<SmtpClient>, Reply>> SmtpClient::open(
    asio::any_io_executor executor, asio::ip::tcp::endpoint endpoint, std::string mx_host, Timeouts timeouts,
    std::shared_ptr<asio::ssl::context> implicit_tls, bool verify) {
  using Out = std::pair<std::unique_ptr<SmtpClient>, Reply>;
  const std::string where = mx_host + "[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port());
  asio::ip::tcp::socket socket(executor);
  asio::steady_timer timer(executor);
  timer.expires_after(timeouts.connect);
  auto race = socket.async_connect(endpoint, asio::as_tuple(asio::use_awaitable)) ||
              timer.async_wait(asio::as_tuple(asio::use_awaitable));
  auto raced = co_await std::move(race);
  if (raced.index() == 1) co_return Out{nullptr, Reply::local("4.4.1", "connect to " + where + ": timed out")};
  if (auto [ec] = std::get<0>(raced); ec) {
    co_return Out{nullptr, Reply::local("4.4.1", "connect to " + where + ": " + ec.message())};
  }
  boost::system::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  net::ConnectionInfo info;
  info.id = log::next_connection_id();
  info.remote_ip = endpoint.address().to_string();
  info.remote_port = endpoint.port();
  info.loopback = endpoint.address().is_loopback();
  info.protocol = Proto::kSmtp;
  info.listener = "outbound";
  spdlog::info("conn={} outbound connect {}", info.id, where);
  std::unique_ptr<SmtpClient> client(
      new SmtpClient(net::Connection(std::move(socket), std::move(info)), mx_host, endpoint.address().to_string(),
                     timeouts));
  if (implicit_tls) {
    auto handshake = client->conn_.start_tls_client(implicit_tls, mx_host, verify, timeouts.command);
    const bool ok = co_await std::move(handshake);
    if (!ok) co_return Out{nullptr, Reply::local("4.7.5", "TLS handshake with " + where + " failed")};
  }
  Reply greeting = co_await client->read_reply(timeouts.greeting, "greeting");
  if (greeting.code != 220) {
    if (client->usable_) co_await client->quit();
    co_return Out{nullptr, std::move(greeting)};
  }
  co_return Out{std::move(client), std::move(greeting)};
}

asio::awaitable<Reply> SmtpClient::read_reply(std::chrono::seconds timeout, std::string_view waiting_for) {
  if (!usable_) co_return lost_;
  ReplyParser parser;
  for (;;) {
    auto r = co_await conn_.read_line(net::ReadOptions{kMaxReplyLine, timeout, false});
    if (!r) {
      usable_ = false;
      std::string why = r.status == net::ReadStatus::kTimeout ? "timeout"
                        : r.status == net::ReadStatus::kTooLong ? "reply line too long"
                                                                : "lost connection";
      lost_ = Reply::local("4.4.2", why + " with " + mx_host_ + "[" + remote_ip_ + "] while waiting for " +
                                        std::string(waiting_for));
      co_return lost_;
    }
    auto state = parser.feed(r.data);
    if (state == ReplyParser::State::kDone) co_return parser.take();
    if (state == ReplyParser::State::kError) {
      usable_ = false;
      lost_ = Reply::local("4.5.0", "malformed reply from " + mx_host_ + "[" + remote_ip_ + "] to " +
                                        std::string(waiting_for));
      co_return lost_;
    }
  }
}

asio::awaitable<bool> SmtpClient::write(std::string_view data, std::chrono::seconds timeout, std::string_view what) {
  if (!usable_) co_return false;
  const bool ok = co_await conn_.write(data, timeout);
  if (!ok) {
    usable_ = false;
    lost_ = Reply::local("4.4.2", "lost connection with " + mx_host_ + "[" + remote_ip_ + "] while sending " +
                                      std::string(what));
  }
  co_return ok;
}

asio::awaitable<Reply> SmtpClient::command(std::string line, std::chrono::seconds timeout, std::string_view what) {
  const bool ok = co_await write(line, timeout, what);
  if (!ok) co_return lost_;
  co_return co_await read_reply(timeout, what);
}

asio::awaitable<Reply> SmtpClient::hello(std::string name) {
  Reply r = co_await command("EHLO " + name + "\r\n", timeouts_.command, "EHLO");
  if (r.ok()) {
    caps_ = parse_ehlo(r);
    co_return r;
  }
  if (!r.permanent()) co_return r;
  caps_ = Capabilities{};
  co_return co_await command("HELO " + name + "\r\n", timeouts_.command, "HELO");
}

asio::awaitable<Reply> SmtpClient::starttls(std::shared_ptr<asio::ssl::context> ctx, bool verify,
                                            std::function<bool(SSL*)> setup) {
  Reply r = co_await command("STARTTLS\r\n", timeouts_.command, "STARTTLS");
  if (r.code != 220) co_return r;
  auto handshake = conn_.start_tls_client(std::move(ctx), mx_host_, verify, timeouts_.command, std::move(setup));
  const bool ok = co_await std::move(handshake);
  if (!ok) {
    usable_ = false;
    lost_ = Reply::local("4.7.5", "TLS handshake with " + mx_host_ + "[" + remote_ip_ + "] failed");
    co_return lost_;
  }
  caps_ = Capabilities{};  // forget everything learnt before TLS [RFC 3207 §4.2]
  co_return r;
}

asio::awaitable<Reply> SmtpClient::auth(std::string username, std::string password) {
  if (caps_.has_auth("PLAIN") || !caps_.has_auth("LOGIN")) {
    std::string plain;
    plain += '\0';
    plain += username;
    plain += '\0';
    plain += password;
    co_return co_await command("AUTH PLAIN " + base64::encode(plain) + "\r\n", timeouts_.command, "AUTH");
  }
  Reply r = co_await command("AUTH LOGIN\r\n", timeouts_.command, "AUTH");
  if (r.code != 334) co_return r;
  r = co_await command(base64::encode(username) + "\r\n", timeouts_.command, "AUTH");
  if (r.code != 334) co_return r;
  co_return co_await command(base64::encode(password) + "\r\n", timeouts_.command, "AUTH");
}

asio::awaitable<Reply> SmtpClient::rset() { co_return co_await command("RSET\r\n", timeouts_.command, "RSET"); }

asio::awaitable<void> SmtpClient::quit() {
  if (usable_) {
    const bool ok = co_await write("QUIT\r\n", std::chrono::seconds(10), "QUIT");
    if (ok) co_await read_reply(std::chrono::seconds(10), "QUIT");
    usable_ = false;
    lost_ = Reply::local("4.4.2", "connection closed");
  }
  co_await conn_.close();
}

asio::awaitable<std::optional<std::string>> SmtpClient::read_chunk(MessageReader& reader) {
  auto chunk = co_await reader.read();
  if (chunk) co_return std::move(*chunk);
  // Never end DATA or BDAT after a partial message: drop the connection instead.
  usable_ = false;
  lost_ = Reply::local("4.3.0", "cannot read the message: " + chunk.error().message);
  co_await conn_.close();
  co_return std::nullopt;
}

asio::awaitable<Reply> SmtpClient::send_data(MessageReader& reader) {
  proto::smtp::DataEncoder encoder(true);
  std::string block;
  for (;;) {
    auto chunk = co_await read_chunk(reader);
    if (!chunk) co_return lost_;
    if (chunk->empty()) break;
    encoder.encode(*chunk, block);
    if (block.size() >= kWriteBlock) {
      const bool ok = co_await write(block, timeouts_.data_block, "message data");
      if (!ok) co_return lost_;
      block.clear();
    }
  }
  encoder.finish(block);
  const bool ok = co_await write(block, timeouts_.data_block, "message data");
  if (!ok) co_return lost_;
  co_return co_await read_reply(timeouts_.data_done, "end of data");
}

asio::awaitable<Reply> SmtpClient::send_bdat(MessageReader& reader) {
  proto::smtp::DataEncoder encoder(false);
  std::string block;
  auto flush = [&](bool last) {
    std::string out = "BDAT " + std::to_string(block.size()) + (last ? " LAST" : "") + "\r\n";
    out += block;
    block.clear();
    return out;
  };
  for (;;) {
    auto chunk = co_await read_chunk(reader);
    if (!chunk) co_return lost_;
    if (chunk->empty()) break;
    encoder.encode(*chunk, block);
    if (block.size() >= kWriteBlock) {
      const std::string out = flush(false);
      const bool ok = co_await write(out, timeouts_.data_block, "BDAT");
      if (!ok) co_return lost_;
      Reply r = co_await read_reply(timeouts_.data_block, "BDAT");
      if (!r.ok()) co_return r;
    }
  }
  encoder.finish(block);
  const std::string out = flush(true);
  const bool ok = co_await write(out, timeouts_.data_block, "BDAT");
  if (!ok) co_return lost_;
  co_return co_await read_reply(timeouts_.data_done, "end of data");
}

asio::awaitable<TransactionResult> SmtpClient::send(const MailParams& params, const std::vector<Recipient>& rcpts,
                                                    MessageReader& reader) {
  TransactionResult t;
  const bool bdat = caps_.chunking;
  const std::string mail = mail_command(params, caps_);
  bool any_accepted = false;
  bool data_sent = false;  // DATA went out (pipelined)
  if (caps_.pipelining) {
    std::string batch = mail;
    for (const auto& r : rcpts) batch += rcpt_command(r, caps_);
    if (!bdat) batch += "DATA\r\n";
    const bool ok = co_await write(batch, timeouts_.command, "MAIL FROM");
    data_sent = ok && !bdat;
    t.mail = co_await read_reply(timeouts_.command, "MAIL FROM");
    for (size_t i = 0; i < rcpts.size(); ++i) {
      Reply r = co_await read_reply(timeouts_.command, "RCPT TO");
      // A rejected MAIL makes the RCPT replies meaningless (503): report MAIL's reply for them.
      if (!t.mail.ok() && usable_) r = t.mail;
      any_accepted |= r.ok();
      t.rcpt.push_back(std::move(r));
    }
  } else {
    t.mail = co_await command(mail, timeouts_.command, "MAIL FROM");
    for (const auto& rcpt : rcpts) {
      if (!t.mail.ok()) {
        t.rcpt.push_back(t.mail);
        continue;
      }
      Reply r = co_await command(rcpt_command(rcpt, caps_), timeouts_.command, "RCPT TO");
      any_accepted |= r.ok();
      t.rcpt.push_back(std::move(r));
    }
  }

  if (!bdat) {
    Reply go;
    if (data_sent) {
      go = co_await read_reply(timeouts_.data_init, "DATA");
    } else if (any_accepted) {
      go = co_await command("DATA\r\n", timeouts_.data_init, "DATA");
    }
    if (any_accepted && go.code == 354) {
      t.data = co_await send_data(reader);
    } else if (go.code == 354) {
      // Pipelined DATA accepted with no valid recipient: send an empty message and ignore the reply.
      Reply ignored = co_await command(".\r\n", timeouts_.data_done, "end of data");
      (void)ignored;
      t.data = Reply::local("5.5.1", "no valid recipients");
    } else {
      t.data = any_accepted ? go : Reply::local("5.5.1", "no valid recipients");
    }
  } else if (any_accepted) {
    t.data = co_await send_bdat(reader);
  } else {
    t.data = Reply::local("5.5.1", "no valid recipients");
  }

  t.message_sent = any_accepted && t.data.ok();
  if (t.message_sent) ++messages_;
  for (size_t i = 0; i < rcpts.size(); ++i) t.final.push_back(t.rcpt[i].ok() ? t.data : t.rcpt[i]);
  // A failed transaction leaves the server mid-way: RSET before the connection is used again.
  if (!t.message_sent && usable_) {
    Reply r = co_await rset();
    if (!r.ok()) usable_ = false;
  }
  co_return t;
}

}  // namespace posthorn::smtpc
