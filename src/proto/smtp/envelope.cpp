#include "proto/smtp/envelope.hpp"

#include <string_view>
#include <vector>

#include "base/ascii.hpp"
#include "proto/smtp/command.hpp"

namespace posthorn::proto::smtp {
namespace {

// A path longer than this is refused outright (RFC 5321 §4.5.3.1.3 allows 256 octets; real SRS
// and VERP addresses exceed that a little, so allow some slack).
constexpr std::size_t kMaxPath = 512;
// ENVID is at most 100 characters, an ORCPT address at most 500 [RFC 3461 §4.2, §4.4].
constexpr std::size_t kMaxEnvid = 100;
constexpr std::size_t kMaxOrcpt = 500;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_8bit(char c) { return static_cast<unsigned char>(c) >= 0x80; }

// atext [RFC 5322 §3.2.3], plus UTF-8 octets (allowed only with SMTPUTF8; the session checks).
bool is_atext(char c) {
  if (is_alpha(c) || is_digit(c) || is_8bit(c)) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool is_dot_string(std::string_view s) {
  if (s.empty()) return false;
  for (auto atom : ascii::split(s, '.')) {
    if (atom.empty()) return false;
    for (char c : atom) {
      if (!is_atext(c)) return false;
    }
  }
  return true;
}

// Quoted-string [RFC 5321 §4.1.2] starting at s[0] == '"'; returns its length with both quotes, or 0.
std::size_t quoted_string_length(std::string_view s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= s.size()) return 0;
      char n = s[i + 1];
      if (n < 32 || n > 126) return 0;
      ++i;
      continue;
    }
    // qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF-8.
    if (!(c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126) || is_8bit(c))) return 0;
  }
  return 0;
}

bool is_domain_or_literal(std::string_view d) { return is_domain(d) || is_address_literal(d); }

// Mailbox = Local-part "@" ( Domain / address-literal ).
std::optional<Mailbox> parse_mailbox(std::string_view s) {
  std::size_t local_len = 0;
  if (!s.empty() && s.front() == '"') {
    local_len = quoted_string_length(s);
    if (local_len == 0) return std::nullopt;
  } else {
    local_len = s.find('@');
    if (local_len == std::string_view::npos) return std::nullopt;
    if (!is_dot_string(s.substr(0, local_len))) return std::nullopt;
  }
  if (local_len >= s.size() || s[local_len] != '@') return std::nullopt;
  std::string_view domain = s.substr(local_len + 1);
  if (!is_domain_or_literal(domain)) return std::nullopt;
  return Mailbox{std::string(s.substr(0, local_len)), std::string(domain)};
}

// Drops an A-d-l source route ("@a,@b:"); returns the rest, or nullopt when the route is malformed.
std::optional<std::string_view> drop_route(std::string_view s) {
  if (s.empty() || s.front() != '@') return s;
  std::size_t pos = 0;
  for (;;) {
    if (pos >= s.size() || s[pos] != '@') return std::nullopt;
    ++pos;
    std::size_t end = pos;
    if (end < s.size() && s[end] == '[') {
      end = s.find(']', end);
      if (end == std::string_view::npos) return std::nullopt;
      ++end;
    } else {
      while (end < s.size() && s[end] != ',' && s[end] != ':') ++end;
    }
    if (!is_domain_or_literal(s.substr(pos, end - pos))) return std::nullopt;
    if (end >= s.size()) return std::nullopt;
    if (s[end] == ':') return s.substr(end + 1);
    if (s[end] != ',') return std::nullopt;
    pos = end + 1;
  }
}

// Splits "<path> params" into the path (with brackets) and the rest; the '>' that ends the path is
// the first one outside a quoted local part.
bool split_path(std::string_view s, std::string_view& path, std::string_view& rest) {
  if (s.empty() || s.front() != '<') return false;
  bool quoted = false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (quoted && c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (c == '>' && !quoted) {
      path = s.substr(0, i + 1);
      rest = s.substr(i + 1);
      return true;
    }
  }
  return false;
}

EnvelopeError param_error(std::string text) { return EnvelopeError{555, "5.5.4", std::move(text)}; }

struct Param {
  std::string keyword;  // upper-cased
  std::string_view value;
  bool has_value = false;
};

// esmtp-param *(SP esmtp-param); esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
bool split_params(std::string_view rest, std::vector<Param>& out, EnvelopeError& error) {
  for (auto token : ascii::split(rest, ' ')) {
    if (token.empty()) continue;  // repeated spaces are tolerated
    std::size_t eq = token.find('=');
    std::string_view keyword = token.substr(0, eq);
    bool ok = !keyword.empty() && (is_alpha(keyword[0]) || is_digit(keyword[0]));
    for (char c : keyword) ok = ok && (is_alpha(c) || is_digit(c) || c == '-');
    if (!ok) {
      error = param_error("Malformed parameter");
      return false;
    }
    Param p{ascii::upper(keyword), {}, eq != std::string_view::npos};
    if (p.has_value) {
      p.value = token.substr(eq + 1);
      if (p.value.empty()) {
        error = param_error("Empty value for " + p.keyword);
        return false;
      }
    }
    for (const auto& seen : out) {
      if (seen.keyword == p.keyword) {
        error = EnvelopeError{501, "5.5.4", "Duplicate parameter " + p.keyword};
        return false;
      }
    }
    out.push_back(std::move(p));
  }
  return true;
}

std::optional<uint64_t> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;  // 19 digits always fit in uint64_t
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  return v;
}

// "FROM:" / "TO:" followed by optional spaces (many clients send "MAIL FROM: <a@b>").
bool strip_keyword(std::string_view& args, std::string_view keyword) {
  if (!ascii::istarts_with(args, keyword)) return false;
  args.remove_prefix(keyword.size());
  while (!args.empty() && args.front() == ' ') args.remove_prefix(1);
  return true;
}

template <class T>
Parsed<T> failed(EnvelopeError error) {
  Parsed<T> r;
  r.error = std::move(error);
  return r;
}

// "FROM:<path> params" / "TO:<path> params" (after the verb): the path with its brackets and the
// parameters; or the error to reply (`syntax` for a missing keyword, `bad_path` for a malformed
// path, a parameter error).
std::optional<EnvelopeError> split_command(std::string_view args, std::string_view keyword, std::string_view syntax,
                                           const EnvelopeError& bad_path, std::string_view& path,
                                           std::vector<Param>& params) {
  if (!strip_keyword(args, keyword)) return EnvelopeError{501, "5.5.4", std::string(syntax)};
  std::string_view rest;
  if (!split_path(args, path, rest) || (!rest.empty() && rest.front() != ' ')) return bad_path;
  EnvelopeError error;
  if (!split_params(rest, params, error)) return error;
  return std::nullopt;
}

}  // namespace

bool Mailbox::non_ascii() const {
  for (char c : local) {
    if (is_8bit(c)) return true;
  }
  for (char c : domain) {
    if (is_8bit(c)) return true;
  }
  return false;
}

std::optional<Mailbox> parse_path(std::string_view path, bool allow_empty) {
  if (path.size() < 2 || path.front() != '<' || path.back() != '>' || path.size() > kMaxPath) return std::nullopt;
  std::string_view inner = path.substr(1, path.size() - 2);
  if (inner.empty()) {
    if (!allow_empty) return std::nullopt;
    return Mailbox{};
  }
  auto after_route = drop_route(inner);
  if (!after_route) return std::nullopt;
  return parse_mailbox(*after_route);
}

std::optional<std::string> xtext_decode(std::string_view s) {
  // hexchar is "+" and two upper-case hex digits [RFC 3461 §4]; lower case is taken too, as
  // Postfix does, since refusing it would only bounce a sender's ENVID or ORCPT over letter case.
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]);
      const int lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += char(hi * 16 + lo);
      i += 2;
      continue;
    }
    if (c < 33 || c > 126 || c == '=') return std::nullopt;  // xchar: "!".."~" except "+" and "="
    out += c;
  }
  return out;
}

std::string xtext_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == '+' || c == '=') {
      out += '+';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

Parsed<MailFrom> parse_mail_from(std::string_view args) {
  auto fail = failed<MailFrom>;
  const EnvelopeError bad_path{501, "5.1.7", "Bad sender address syntax"};
  std::string_view path;
  std::vector<Param> params;
  if (auto e = split_command(args, "FROM:", "Syntax: MAIL FROM:<address>", bad_path, path, params)) return fail(*e);
  auto sender = parse_path(path, true);
  if (!sender) return fail(bad_path);
  MailFrom m;
  m.sender = std::move(*sender);
  for (const auto& p : params) {
    if (p.keyword == "SIZE") {
      auto n = p.has_value ? parse_number(p.value) : std::nullopt;
      if (!n) return fail(param_error("Bad SIZE value"));
      m.size = *n;
    } else if (p.keyword == "BODY") {
      if (ascii::iequals(p.value, "7BIT")) m.body = Body::k7Bit;
      else if (ascii::iequals(p.value, "8BITMIME")) m.body = Body::k8BitMime;
      else if (ascii::iequals(p.value, "BINARYMIME")) m.body = Body::kBinaryMime;
      else return fail(param_error("Bad BODY value"));
    } else if (p.keyword == "SMTPUTF8") {
      if (p.has_value) return fail(param_error("SMTPUTF8 takes no value"));
      m.smtputf8 = true;
    } else if (p.keyword == "RET") {
      if (ascii::iequals(p.value, "FULL")) m.ret = Ret::kFull;
      else if (ascii::iequals(p.value, "HDRS")) m.ret = Ret::kHdrs;
      else return fail(param_error("Bad RET value"));
    } else if (p.keyword == "ENVID") {
      auto v = p.has_value ? xtext_decode(p.value) : std::nullopt;
      if (!v || v->size() > kMaxEnvid) return fail(param_error("Bad ENVID value"));
      m.envid = std::move(*v);
    } else if (p.keyword == "AUTH") {
      auto v = p.has_value ? xtext_decode(p.value) : std::nullopt;
      if (!v) return fail(param_error("Bad AUTH value"));
      m.auth = std::move(*v);
    } else {
      return fail(param_error("Unsupported parameter " + p.keyword));
    }
  }
  Parsed<MailFrom> r;
  r.value = std::move(m);
  return r;
}

Parsed<RcptTo> parse_rcpt_to(std::string_view args) {
  auto fail = failed<RcptTo>;
  const EnvelopeError bad_path{501, "5.1.3", "Bad recipient address syntax"};
  std::string_view path;
  std::vector<Param> params;
  if (auto e = split_command(args, "TO:", "Syntax: RCPT TO:<address>", bad_path, path, params)) return fail(*e);
  RcptTo t;
  if (ascii::iequals(path, "<postmaster>")) {
    t.postmaster = true;
    t.recipient.local = "postmaster";
  } else {
    auto rcpt = parse_path(path, false);
    if (!rcpt) return fail(bad_path);
    t.recipient = std::move(*rcpt);
  }
  for (const auto& p : params) {
    if (p.keyword == "NOTIFY") {
      uint8_t bits = 0;
      for (auto item : ascii::split(p.value, ',')) {
        if (ascii::iequals(item, "NEVER")) bits |= kNotifyNever;
        else if (ascii::iequals(item, "SUCCESS")) bits |= kNotifySuccess;
        else if (ascii::iequals(item, "FAILURE")) bits |= kNotifyFailure;
        else if (ascii::iequals(item, "DELAY")) bits |= kNotifyDelay;
        else return fail(param_error("Bad NOTIFY value"));
      }
      // NEVER stands alone [RFC 3461 §4.1].
      if (bits == 0 || ((bits & kNotifyNever) && bits != kNotifyNever)) {
        return fail(param_error("Bad NOTIFY value"));
      }
      t.notify = bits;
    } else if (p.keyword == "ORCPT") {
      std::size_t semi = p.value.find(';');
      if (semi == std::string_view::npos || semi == 0) return fail(param_error("Bad ORCPT value"));
      std::string_view type = p.value.substr(0, semi);
      bool ok = true;
      for (char c : type) ok = ok && (is_alpha(c) || is_digit(c) || c == '-');
      auto addr = xtext_decode(p.value.substr(semi + 1));
      if (!ok || !addr || addr->empty() || addr->size() > kMaxOrcpt) {
        return fail(param_error("Bad ORCPT value"));
      }
      t.orcpt = std::string(type) + ";" + *addr;
    } else {
      return fail(param_error("Unsupported parameter " + p.keyword));
    }
  }
  Parsed<RcptTo> r;
  r.value = std::move(t);
  return r;
}

Parsed<Bdat> parse_bdat(std::string_view args) {
  auto parts = ascii::split(args, ' ');
  std::optional<uint64_t> n;
  if (!parts.empty() && parts.size() <= 2) n = parse_number(parts[0]);
  if (!n || (parts.size() == 2 && !ascii::iequals(parts[1], "LAST"))) {
    return failed<Bdat>(EnvelopeError{501, "5.5.4", "Syntax: BDAT size [LAST]"});
  }
  Parsed<Bdat> r;
  r.value = Bdat{*n, parts.size() == 2};
  return r;
}

}  // namespace posthorn::proto::smtp
