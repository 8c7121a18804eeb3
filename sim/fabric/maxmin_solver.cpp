#include "sim/fabric/maxmin_solver.hpp"
