// Implementation notes: a streaming tokenizer (one token of lookahead) feeds a small state machine;
// every byte is looked at a constant number of times, and the tokens of only one element are held
// at once, so a 100,000-address header is linear in time and bounded in memory.
#include "mime/address.hpp"

#include <algorithm>
#include <optional>

#include "mime/encoded_word.hpp"

namespace posthorn::mime {
namespace {

enum class Kind { kWord, kQuoted, kComment, kLiteral, kSpecial, kEnd };

struct Token {
  Kind kind = Kind::kEnd;
  std::string text;    // word text, quoted/comment content unescaped, literal with brackets
  char special = 0;    // for kSpecial
  bool space_before = false;
};

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_special(char c) {
  return c == '<' || c == '>' || c == ':' || c == ';' || c == '@' || c == ',' || c == '(' ||
         c == ')' || c == '"' || c == '[' || c == ']' || c == '\\';
}

class Tokenizer {
 public:
  explicit Tokenizer(std::string_view s) : s_(s) {}

  Token next() {
    if (pushed_) {
      Token t = std::move(*pushed_);
      pushed_.reset();
      return t;
    }
    Token t;
    while (pos_ < s_.size() && is_wsp(s_[pos_])) {
      ++pos_;
      t.space_before = true;
    }
    if (pos_ >= s_.size()) return t;
    char c = s_[pos_];
    if (c == '"') {
      t.kind = Kind::kQuoted;
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
        t.text.push_back(s_[pos_++]);
      }
      if (pos_ < s_.size()) ++pos_;  // closing quote; unterminated runs to the end
    } else if (c == '(') {
      t.kind = Kind::kComment;
      int depth = 1;
      ++pos_;
      while (pos_ < s_.size()) {
        char d = s_[pos_++];
        if (d == '\\' && pos_ < s_.size()) {
          t.text.push_back(s_[pos_++]);
          continue;
        }
        if (d == '(') ++depth;
        if (d == ')' && --depth == 0) break;
        t.text.push_back(d);
      }
    } else if (c == '[') {
      t.kind = Kind::kLiteral;
      std::size_t end = s_.find(']', pos_);
      end = end == std::string_view::npos ? s_.size() : end + 1;
      t.text = std::string(s_.substr(pos_, end - pos_));
      pos_ = end;
    } else if (c == '<' || c == '>' || c == ':' || c == ';' || c == '@' || c == ',') {
      t.kind = Kind::kSpecial;
      t.special = c;
      t.text = std::string(1, c);
      ++pos_;
    } else if (c == ')' || c == ']' || c == '\\') {
      t.kind = Kind::kWord;  // stray closer or backslash: keep it as text
      t.text = std::string(1, c);
      ++pos_;
    } else {
      t.kind = Kind::kWord;
      std::size_t b = pos_;
      while (pos_ < s_.size() && !is_wsp(s_[pos_]) && !is_special(s_[pos_])) ++pos_;
      t.text = std::string(s_.substr(b, pos_ - b));
    }
    return t;
  }

  void push_back(Token t) { pushed_ = std::move(t); }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
  std::optional<Token> pushed_;
};

bool is_special(const Token& t, char c) { return t.kind == Kind::kSpecial && t.special == c; }

// Display-name phrase: words joined by single spaces, comments dropped.
std::string phrase_of(const std::vector<Token>& tokens) {
  std::string out;
  for (const Token& t : tokens) {
    if (t.kind == Kind::kComment) continue;
    if (!out.empty() && (t.space_before || t.kind == Kind::kQuoted)) out.push_back(' ');
    out += t.text;
  }
  return out;
}

// Joins tokens without spaces (local parts and domains), skipping comments.
std::string joined(const std::vector<Token>& tokens, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) {
    if (tokens[i].kind == Kind::kComment) continue;
    if (tokens[i].space_before && !out.empty() && tokens[i].kind == Kind::kWord &&
        tokens[i - 1].kind == Kind::kWord) {
      out.push_back(' ');  // "Undisclosed recipients" without a colon stays readable
    }
    out += tokens[i].text;
  }
  return out;
}

// local@domain from an element's tokens (first '@' splits).
void fill_addr_spec(const std::vector<Token>& tokens, Address& a) {
  std::size_t at = tokens.size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (is_special(tokens[i], '@')) {
      at = i;
      break;
    }
  }
  a.mailbox = joined(tokens, 0, at);
  if (at < tokens.size()) a.host = joined(tokens, at + 1, tokens.size());
}

class Parser {
 public:
  Parser(std::string_view value, const AddressOptions& options) : tok_(value), options_(options) {}

  AddressList run() {
    while (!full()) {
      Token t = tok_.next();
      if (t.kind == Kind::kEnd) {
        finish_element();
        break;
      }
      if (t.kind != Kind::kSpecial || t.special == '@') {
        current_.push_back(std::move(t));
        continue;
      }
      switch (t.special) {
        case ',':
          finish_element();
          break;
        case ';':
          finish_element();
          if (in_group_) end_group();
          break;
        case ':':
          if (in_group_) {
            current_.push_back(std::move(t));  // stray ':' inside a group: keep as text
          } else {
            Address g;
            g.raw_name = phrase_of(current_);
            g.mailbox = g.raw_name;
            g.name = decode_words(g.raw_name);
            g.is_group_start = true;
            current_.clear();
            emit(std::move(g));
            in_group_ = true;
          }
          break;
        case '<':
          angle();
          break;
        default:  // stray '>'
          break;
      }
    }
    if (full() && tok_.next().kind != Kind::kEnd) list_.truncated = true;
    if (in_group_) end_group();
    return std::move(list_);
  }

 private:
  bool full() const { return list_.addresses.size() >= options_.max_addresses; }

  void emit(Address a) {
    if (full()) {
      list_.truncated = true;
      return;
    }
    list_.addresses.push_back(std::move(a));
  }

  void end_group() {
    in_group_ = false;
    Address end;
    end.is_group_end = true;
    list_.addresses.push_back(std::move(end));  // always kept: groups stay balanced
  }

  void finish_element() {
    // Only comments ("group: (foo) ;"): CFWS, not a mailbox [RFC 5322 §3.4: group-list may be
    // CFWS]; nothing to list.
    const bool only_comments = std::all_of(current_.begin(), current_.end(),
                                           [](const Token& t) { return t.kind == Kind::kComment; });
    if (only_comments) {
      current_.clear();
      return;
    }
    Address a;
    fill_addr_spec(current_, a);
    for (const Token& t : current_) {
      if (t.kind == Kind::kComment) a.raw_name = t.text;  // "a@b (Name)": last comment is the name
    }
    a.name = decode_words(a.raw_name);
    current_.clear();
    if (a.mailbox.empty() && a.host.empty() && a.raw_name.empty()) return;
    emit(std::move(a));
  }

  // After '<': [route ':'] addr-spec ['>'] [RFC 5322 §3.4, §4.4].
  void angle() {
    Address a;
    a.raw_name = phrase_of(current_);
    a.name = decode_words(a.raw_name);
    current_.clear();
    std::vector<Token> spec;
    Token t = tok_.next();
    if (is_special(t, '@')) {  // obsolete route: @a,@b:
      while (t.kind != Kind::kEnd && !is_special(t, ':') && !is_special(t, '>')) {
        if (t.kind != Kind::kComment) a.adl += t.text;
        t = tok_.next();
      }
      if (is_special(t, ':')) t = tok_.next();
    }
    while (t.kind != Kind::kEnd && !is_special(t, '>')) {
      if (is_special(t, ',') || is_special(t, ';') || is_special(t, '<')) {
        tok_.push_back(std::move(t));  // missing '>': the element ends here
        break;
      }
      spec.push_back(std::move(t));
      t = tok_.next();
    }
    fill_addr_spec(spec, a);
    emit(std::move(a));
    // Anything after '>' up to the next separator (comments, junk) is dropped.
    for (;;) {
      Token rest = tok_.next();
      if (rest.kind == Kind::kEnd || is_special(rest, ',') || is_special(rest, ';')) {
        tok_.push_back(std::move(rest));
        return;
      }
    }
  }

  Tokenizer tok_;
  const AddressOptions& options_;
  AddressList list_;
  std::vector<Token> current_;
  bool in_group_ = false;
};

}  // namespace

AddressList parse_address_list(std::string_view value, const AddressOptions& options) {
  return Parser(value, options).run();
}

}  // namespace posthorn::mime
