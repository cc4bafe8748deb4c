# Install one launcher per `console_scripts` entry of setup.cfg into lib/<package>/, where
# `ros2 run <package> <name>` looks. setup.cfg stays the single list of executables: pip installs
# get the same commands as console scripts.
#
# An entry looks like `    detector = yolo_trt_ros.ros.detector_node:main`.
function(ros_executables_from_setup_cfg setup_cfg)
  # re-run CMake when the list changes, so a new executable appears on the next build
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${setup_cfg}")
  get_executable_path(_python Python3::Interpreter CONFIGURE)
  file(STRINGS "${setup_cfg}" _lines)
  set(_in_console_scripts FALSE)
  set(_count 0)
  foreach(_line IN LISTS _lines)
    if(_line MATCHES "^console_scripts[ \t]*=")
      set(_in_console_scripts TRUE)
    elseif(_in_console_scripts AND _line MATCHES "^[ \t]+([A-Za-z0-9_-]+)[ \t]*=[ \t]*([A-Za-z0-9_.]+):([A-Za-z0-9_]+)[ \t]*$")
      set(_name "${CMAKE_MATCH_1}")
      set(_module "${CMAKE_MATCH_2}")
      set(_function "${CMAKE_MATCH_3}")
      set(_launcher "${CMAKE_CURRENT_BINARY_DIR}/ros_executables/${_name}")
      file(WRITE "${_launcher}"
        "#!${_python}\n"
        "# Generated from setup.cfg by ros_executables_from_setup_cfg.cmake.\n"
        "import sys\n\n"
        "from ${_module} import ${_function}\n\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(${_function}())\n")
      # executable in the build tree too: --symlink-install links to this very file
      file(CHMOD "${_launcher}" PERMISSIONS
        OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
      install(PROGRAMS "${_launcher}" DESTINATION lib/${PROJECT_NAME})
      math(EXPR _count "${_count} + 1")
    elseif(_in_console_scripts AND NOT _line MATCHES "^[ \t]")
      set(_in_console_scripts FALSE)
    endif()
  endforeach()
  if(_count EQUAL 0)
    message(FATAL_ERROR "No console_scripts entries found in ${setup_cfg}; "
      "ros2 run would find no executables of ${PROJECT_NAME}.")
  endif()
endfunction()
