#include "sim/core/engine.hpp"
