# Fails unless the file PNG exists and is larger than MIN_BYTES bytes: a blank or unrendered
# window compresses to far less than a chart with axes, bars and text.
# Usage: cmake -DPNG=path/to/file.png -DMIN_BYTES=5120 -P check_screenshot.cmake

if(NOT DEFINED PNG OR NOT DEFINED MIN_BYTES)
  message(FATAL_ERROR "usage: cmake -DPNG=FILE -DMIN_BYTES=N -P check_screenshot.cmake")
endif()
if(NOT EXISTS "${PNG}")
  message(FATAL_ERROR "screenshot ${PNG} does not exist")
endif()
file(SIZE "${PNG}" _size)
if(_size LESS_EQUAL MIN_BYTES)
  message(FATAL_ERROR "screenshot ${PNG} is ${_size} bytes, expected more than ${MIN_BYTES}")
endif()
message(STATUS "screenshot ${PNG}: ${_size} bytes")
