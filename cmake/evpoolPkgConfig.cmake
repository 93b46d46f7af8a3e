# SPDX-License-Identifier: Apache-2.0
# Generates and installs evpool.pc (cmake/evpool.pc.in), included from the
# top-level CMakeLists.txt's install section. The file locates the prefix
# from its own place (${pcfiledir}) when the install directories are relative
# to the prefix, so an install moved elsewhere, or made with
# `cmake --install --prefix`, still describes itself.

if(IS_ABSOLUTE "${EVPOOL_INSTALL_PKGCONFIGDIR}")
  set(EVPOOL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  # From <prefix>/<pkgconfigdir> back up to <prefix>: one ".." per component.
  file(RELATIVE_PATH up "/prefix/${EVPOOL_INSTALL_PKGCONFIGDIR}" "/prefix")
  string(REGEX REPLACE "/$" "" up "${up}")
  set(EVPOOL_PC_PREFIX "\${pcfiledir}/${up}")
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(EVPOOL_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(EVPOOL_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
get_target_property(cudart CUDA::cudart_static IMPORTED_LOCATION)
get_filename_component(EVPOOL_PC_CUDALIBDIR "${cudart}" DIRECTORY)
set(EVPOOL_PC_REQUIRES "")
if(EVPOOL_NEEDS_URCU)
  set(EVPOOL_PC_REQUIRES "${EVPOOL_URCU_MODULE}")
endif()

configure_file(${CMAKE_CURRENT_LIST_DIR}/evpool.pc.in ${PROJECT_BINARY_DIR}/evpool.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/evpool.pc DESTINATION ${EVPOOL_INSTALL_PKGCONFIGDIR})
