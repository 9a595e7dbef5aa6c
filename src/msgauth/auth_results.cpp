// Authentication-Results formatting and the scan for fields carrying our own authserv-id.
#include "msgauth/auth_results.hpp"

#include <cstring>

#include "base/ascii.hpp"
#include "mime/header.hpp"

namespace posthorn::msgauth {

namespace {

constexpr size_t kFoldAt = 78;

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// RFC 2045 token: printable ASCII except SPACE and tspecials.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (uint8_t(c) <= 0x20 || uint8_t(c) >= 0x7f || std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr) return false;
  }
  return true;
}

bool is_domain_name(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (auto label : ascii::split(s, '.')) {
    if (label.empty()) return false;
    for (char c : label) {
      if (!is_alnum(c) && c != '-' && c != '_') return false;
    }
  }
  return true;
}

bool is_dot_atom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (s[i - 1] == '.') return false;
    } else if (!is_alnum(c) && std::strchr("!#$%&'*+-/=?^_`{|}~", c) == nullptr) {
      return false;
    }
  }
  return true;
}

// Appends the words of one resinfo to `out`, folding before a word that would pass column 78.
class Folder {
 public:
  explicit Folder(std::string start) : out_(std::move(start)), column_(out_.size()) {}
  void word(const std::string& w) {
    if (column_ + 1 + w.size() > kFoldAt) {
      out_ += "\r\n\t";
      column_ = 1;
    } else {
      out_ += ' ';
      ++column_;
    }
    out_ += w;
    column_ += w.size();
  }
  // Starts a resinfo on a new line unless all of it (and the ';' after it) fits on this one.
  void group(const std::vector<std::string>& words, bool last) {
    size_t len = last ? 0 : 1;
    for (const auto& w : words) len += 1 + w.size();
    if (column_ + len > kFoldAt && column_ > 1) {
      out_ += "\r\n\t";
      column_ = 1;
      out_ += words.front();
      column_ += words.front().size();
      for (size_t i = 1; i < words.size(); ++i) word(words[i]);
      return;
    }
    for (const auto& w : words) word(w);
  }
  void raw(std::string_view s) {
    out_ += s;
    column_ += s.size();
  }
  std::string finish() { return out_ + "\r\n"; }

 private:
  std::string out_;
  size_t column_;
};

void property(std::vector<std::string>& words, std::string_view name, std::string_view value) {
  if (!value.empty()) words.push_back(std::string(name) + "=" + auth_results_pvalue(value));
}

// A quoted-string: controls dropped, '"' and backslash escaped.
std::string quote_string(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (uint8_t(c) < 0x20 || c == 0x7f) continue;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Skips whitespace, line ends and (nested) comments.
size_t skip_cfws(std::string_view s, size_t i) {
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '(') {
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '(') {
          ++depth;
        } else if (s[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
      }
    } else {
      break;
    }
  }
  return i;
}

// The authserv-id at the start of a field value: a token/domain, or a quoted-string.
std::string read_authserv_id(std::string_view value) {
  size_t i = skip_cfws(value, 0);
  std::string id;
  if (i < value.size() && value[i] == '"') {
    for (++i; i < value.size() && value[i] != '"'; ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      if (value[i] != '\r' && value[i] != '\n') id += value[i];
    }
    return id;
  }
  while (i < value.size() && value[i] != ';' && value[i] != '(' && uint8_t(value[i]) > 0x20) id += value[i++];
  return id;
}

}  // namespace

std::string auth_results_pvalue(std::string_view value) {
  if (value.empty()) return "\"\"";
  if (is_token(value)) return std::string(value);
  const size_t at = value.rfind('@');
  if (at != std::string_view::npos && is_domain_name(value.substr(at + 1)) &&
      (at == 0 || is_dot_atom(value.substr(0, at)))) {
    return std::string(value);
  }
  return quote_string(value);
}

std::string format_authentication_results(const AuthResultsInput& input) {
  std::vector<std::vector<std::string>> resinfos;
  if (input.spf) {
    const SpfOutcome& spf = *input.spf;
    std::vector<std::string> words{"spf=" + std::string(spf_result_name(spf.result))};
    property(words, spf.helo_identity ? "smtp.helo" : "smtp.mailfrom", spf.domain);
    resinfos.push_back(std::move(words));
  }
  if (input.dkim) {
    if (input.dkim->empty()) resinfos.push_back({"dkim=none"});
    for (const auto& d : *input.dkim) {
      std::vector<std::string> words{"dkim=" + (d.result.empty() ? std::string("none") : ascii::lower(d.result))};
      if (!d.reason.empty()) words.push_back("reason=" + quote_string(d.reason));
      property(words, "header.d", d.domain);
      property(words, "header.s", d.selector);
      property(words, "header.a", d.algorithm);
      property(words, "header.b", d.b);
      resinfos.push_back(std::move(words));
    }
  }
  if (input.dmarc) {
    const DmarcOutcome& dmarc = *input.dmarc;
    std::vector<std::string> words{"dmarc=" + std::string(dmarc_result_name(dmarc.result))};
    if (dmarc.result == DmarcResult::kFail) {
      words.push_back("(p=" + std::string(dmarc_policy_name(dmarc.requested)) +
                      " dis=" + std::string(dmarc_policy_name(dmarc.policy)) + ")");
    }
    property(words, "header.from", dmarc.from_domain);
    resinfos.push_back(std::move(words));
  }
  if (input.arc) resinfos.push_back({*input.arc});
  Folder folder("Authentication-Results: " + auth_results_pvalue(input.authserv_id));
  if (resinfos.empty()) {
    folder.raw(";");
    folder.word("none");
  }
  for (size_t i = 0; i < resinfos.size(); ++i) {
    folder.raw(";");
    folder.group(resinfos[i], i + 1 == resinfos.size());
  }
  return folder.finish();
}

std::vector<ByteRange> find_own_authentication_results(std::string_view message, std::string_view authserv_id) {
  std::vector<ByteRange> out;
  const size_t header_end = mime::split_header(message).header_end;
  const std::string_view header = message.substr(0, header_end);
  size_t pos = 0;
  while (pos < header.size()) {
    // One field: its first line, then continuation lines starting with SP or HTAB.
    const size_t begin = pos;
    size_t end = pos;
    do {
      const size_t nl = header.find('\n', end);
      end = nl == std::string_view::npos ? header.size() : nl + 1;
    } while (end < header.size() && (header[end] == ' ' || header[end] == '\t'));
    const std::string_view field = header.substr(begin, end - begin);
    const size_t colon = field.find(':');
    // A continuation line before any field belongs to nothing (mime::parse_header skips it too).
    const bool orphan = field[0] == ' ' || field[0] == '\t';
    if (colon != std::string_view::npos && !orphan) {
      const std::string_view name = ascii::trim(field.substr(0, colon));
      if (ascii::iequals(name, "Authentication-Results") &&
          ascii::iequals(read_authserv_id(field.substr(colon + 1)), authserv_id)) {
        out.push_back(ByteRange{begin, end});
      }
    }
    pos = end;
  }
  return out;
}

std::string drop_ranges(std::string_view message, const std::vector<ByteRange>& ranges) {
  std::string out;
  size_t pos = 0;
  for (const auto& r : ranges) {
    if (r.begin < pos || r.end > message.size()) continue;
    out.append(message.substr(pos, r.begin - pos));
    pos = r.end;
  }
  out.append(message.substr(pos));
  return out;
}

}  // namespace posthorn::msgauth
