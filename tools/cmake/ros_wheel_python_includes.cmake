# Repairs the Python include directories that the PyPI ROS 2 wheels export.
#
# The wheels' exported *__rosidl_generator_py targets carry the Python and NumPy include
# directories of the image they were built in (under /opt/python/cp311-cp311), which do not
# exist here, so CMake refuses to generate. Call ros_wheel_fix_python_includes() after
# rosidl_generate_interfaces() and before ament_package(): it drops those directories from every
# imported target of the calling directory and adds this interpreter's Python and NumPy headers.

set(ROS_WHEEL_BUILD_IMAGE_PYTHON "/opt/python/cp311-cp311/")

function(ros_wheel_fix_python_includes)
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development NumPy)
  get_directory_property(imported_targets IMPORTED_TARGETS)
  foreach(target IN LISTS imported_targets)
    get_target_property(include_dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT include_dirs)
      continue()
    endif()
    set(kept_dirs "")
    foreach(dir IN LISTS include_dirs)
      string(FIND "${dir}" "${ROS_WHEEL_BUILD_IMAGE_PYTHON}" position)
      if(NOT position EQUAL 0)
        list(APPEND kept_dirs "${dir}")
      endif()
    endforeach()
    if(NOT kept_dirs STREQUAL include_dirs)
      list(APPEND kept_dirs ${Python3_INCLUDE_DIRS} ${Python3_NumPy_INCLUDE_DIRS})
      set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${kept_dirs}")
    endif()
  endforeach()
endfunction()
