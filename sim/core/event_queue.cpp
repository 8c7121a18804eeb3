#include "sim/core/event_queue.hpp"
