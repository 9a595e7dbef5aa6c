#include "base/result.hpp"

namespace posthorn {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::kNotFound: return "not found";
    case Errc::kExists: return "exists";
    case Errc::kDenied: return "denied";
    case Errc::kOverQuota: return "over quota";
    case Errc::kTooBig: return "too big";
    case Errc::kInvalid: return "invalid";
    case Errc::kConflict: return "conflict";
    case Errc::kUnavailable: return "unavailable";
    case Errc::kInternal: return "internal error";
  }
  return "unknown";
}

}  // namespace posthorn
