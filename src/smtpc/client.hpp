// SmtpClient: one outbound SMTP connection [RFC 5321] on a net::Connection: connect with a timeout,
// greeting, EHLO (HELO fallback), STARTTLS [RFC 3207], AUTH PLAIN/LOGIN [RFC 4954], and mail
// transactions that pipeline MAIL/RCPT/DATA when PIPELINING is offered [RFC 2920] or use BDAT when
// CHUNKING is offered [RFC 3030]. Network failures and timeouts are values (Reply with code 0 and a
// local enhanced code), never exceptions; after one the client is no longer usable().
// Depends on net/ (Connection), smtpc/protocol.hpp, config/. Not thread-safe: one coroutine uses a
// client at a time (the delivery agent hands it over through its pool).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <optional>

#include "base/result.hpp"
#include "config/config.hpp"
#include "net/connection.hpp"
#include "smtpc/protocol.hpp"

namespace posthorn::smtpc {

// The message bytes of one delivery attempt, read chunk by chunk (a 50 MB message is never whole in
// memory). read() returns the next chunk; an empty chunk is the end. An error aborts the transaction
// without ending DATA, so a partial message is never delivered.
class MessageReader {
 public:
  virtual ~MessageReader() = default;
  virtual boost::asio::awaitable<Result<std::string>> read() = 0;
};
// Opens the message again for each attempt (another MX host, a retry).
using MessageOpener = std::function<Result<std::unique_ptr<MessageReader>>()>;

// A reader over bytes in memory (DSNs, tests), handing out `chunk`-sized pieces.
class StringReader final : public MessageReader {
 public:
  explicit StringReader(std::shared_ptr<const std::string> bytes, size_t chunk = 64 * 1024)
      : bytes_(std::move(bytes)), chunk_(chunk) {}
  boost::asio::awaitable<Result<std::string>> read() override;
  static MessageOpener opener(std::string bytes, size_t chunk = 64 * 1024);

 private:
  std::shared_ptr<const std::string> bytes_;
  size_t chunk_;
  size_t pos_ = 0;
};

struct Timeouts {
  std::chrono::seconds connect{30};
  std::chrono::seconds greeting{300};
  std::chrono::seconds command{300};
  std::chrono::seconds data_init{120};
  std::chrono::seconds data_block{180};
  std::chrono::seconds data_done{600};
  static Timeouts from(const config::Delivery& d) {
    return {d.connect_timeout, d.greeting_timeout, d.command_timeout, d.data_init_timeout, d.data_block_timeout,
            d.data_done_timeout};
  }
};

// The replies of one transaction.
struct TransactionResult {
  Reply mail;
  std::vector<Reply> rcpt;   // one per recipient, in order
  Reply data;                // the final reply to the message (after "." or BDAT LAST), code 0 if not reached
  std::vector<Reply> final;  // per recipient: its RCPT reply when rejected, else `data`
  bool message_sent = false; // the server accepted the message for at least one recipient
};

class SmtpClient {
 public:
  // Connects to `endpoint` (mx_host is for SNI, logs and Remote-MTA); with implicit_tls the TLS
  // handshake comes first. Returns the client and the greeting; on failure the client is null and
  // the Reply says why (code 0: network; 4xx/5xx: the greeting).
  static boost::asio::awaitable<std::pair<std::unique_ptr<SmtpClient>, Reply>> open(
      boost::asio::any_io_executor executor, boost::asio::ip::tcp::endpoint endpoint, std::string mx_host,
      Timeouts timeouts, std::shared_ptr<boost::asio::ssl::context> implicit_tls = nullptr, bool verify = false);
  ~SmtpClient();

  // EHLO; on a 5xx reply (a server that does not know EHLO) HELO [RFC 5321 §3.2].
  boost::asio::awaitable<Reply> hello(std::string name);
  // STARTTLS and the handshake; the caller sends EHLO again. A 220 reply with a failed handshake
  // returns Reply::local("4.7.5", ...) and leaves the client unusable.
  // `setup` goes to Connection::start_tls_client (DANE parameters).
  boost::asio::awaitable<Reply> starttls(std::shared_ptr<boost::asio::ssl::context> ctx, bool verify,
                                         std::function<bool(SSL*)> setup = {});
  // AUTH PLAIN (or LOGIN when only that is offered).
  boost::asio::awaitable<Reply> auth(std::string username, std::string password);
  // One transaction. `reader` is read only once MAIL and some RCPT were accepted.
  boost::asio::awaitable<TransactionResult> send(const MailParams& params, const std::vector<Recipient>& rcpts,
                                                 MessageReader& reader);
  boost::asio::awaitable<Reply> rset();
  // QUIT (reply awaited briefly) and close.
  boost::asio::awaitable<void> quit();

  bool usable() const { return usable_; }
  bool tls() const { return conn_.is_tls(); }
  // After a handshake, also a failed one: the certificate verification result (X509_V_OK, ...).
  long tls_verify_result() const { return conn_.tls_verify_result(); }
  const Capabilities& capabilities() const { return caps_; }
  const std::string& mx_host() const { return mx_host_; }
  const std::string& remote_ip() const { return remote_ip_; }
  uint32_t messages() const { return messages_; }  // transactions that sent a message

 private:
  SmtpClient(net::Connection conn, std::string mx_host, std::string remote_ip, Timeouts timeouts);
  boost::asio::awaitable<Reply> read_reply(std::chrono::seconds timeout, std::string_view waiting_for);
  boost::asio::awaitable<bool> write(std::string_view data, std::chrono::seconds timeout, std::string_view what);
  boost::asio::awaitable<Reply> command(std::string line, std::chrono::seconds timeout, std::string_view what);
  // The next chunk ("" at the end); nullopt after a read error, which made the client unusable.
  boost::asio::awaitable<std::optional<std::string>> read_chunk(MessageReader& reader);
  boost::asio::awaitable<Reply> send_data(MessageReader& reader);
  boost::asio::awaitable<Reply> send_bdat(MessageReader& reader);

  net::Connection conn_;
  std::string mx_host_;
  std::string remote_ip_;
  Timeouts timeouts_;
  Capabilities caps_;
  Reply lost_;  // why the connection became unusable
  bool usable_ = true;
  uint32_t messages_ = 0;
};

}  // namespace posthorn::smtpc
