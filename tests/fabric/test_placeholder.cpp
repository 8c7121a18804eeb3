#include <gtest/gtest.h>
TEST(FabricPlaceholder, Builds) { SUCCEED(); }
