#include "discovery/store/event.h"

namespace discovery::store {

std::string_view action_name(Action action) {
  switch (action) {
    case Action::Get:
      return "get";
    case Action::Set:
      return "set";
    case Action::Create:
      return "create";
    case Action::Update:
      return "update";
    case Action::CompareAndSwap:
      return "compareAndSwap";
    case Action::Delete:
      return "delete";
    case Action::CompareAndDelete:
      return "compareAndDelete";
    case Action::Expire:
      return "expire";
  }
  return "";
}

}  // namespace discovery::store
