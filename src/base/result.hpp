// Result<T> and the protocol-free error codes every domain call returns (DESIGN.md §5).
// Depends on nothing but Boost.System (header-only). Values only; thread-compatible.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace posthorn {

// Protocol-independent failure classes; each protocol maps them to its wire form in one function.
enum class Errc {
  kNotFound = 1,
  kExists,
  kDenied,
  kOverQuota,
  kTooBig,
  kInvalid,
  kConflict,
  kUnavailable,
  kInternal,
};

std::string_view to_string(Errc code);

// An error value: a class and a message that is safe to show to a client or an administrator.
// Log-only details (SQL text, paths) are logged where they happen and never put here.
struct Error {
  Errc code = Errc::kInternal;
  std::string message;

  bool operator==(const Error&) const = default;
};

template <class T>
using Result = boost::system::result<T, Error>;

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

// Thrown only by Result::value() on an error: a bug (the caller did not check).
class ResultError : public std::runtime_error {
 public:
  explicit ResultError(const Error& e) : std::runtime_error(e.message), error_(e) {}
  const Error& error() const { return error_; }

 private:
  Error error_;
};

[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw ResultError(e);
}

}  // namespace posthorn
