# Compiles every shaders/*.comp to SPIR-V twice (fp32 and fp16 storage), validates each
# module with spirv-val, and embeds the words in a generated C table (fv_shader_table).
find_program(GLSLANG glslangValidator REQUIRED)
find_program(SPIRV_VAL spirv-val REQUIRED)
find_program(SPIRV_OPT spirv-opt)
option(FOVEA_SPIRV_OPT "Optimise every SPIR-V module with spirv-opt -O (when spirv-opt is installed)" ON)
if(FOVEA_SPIRV_OPT AND NOT SPIRV_OPT)
  message(STATUS "spirv-opt not found: shaders are embedded as glslang emits them")
endif()

# Optional shader features are probed here and never required: a kernel variant that needs one
# is compiled only when the probe passes, and chosen at run time only when the device has it.
# Cooperative matrices (GL_KHR_cooperative_matrix) need a newer glslang than Debian 12's; no
# kernel uses them yet, so the probe only reports.
set(FV_PROBE ${CMAKE_BINARY_DIR}/probe_coopmat.comp)
file(WRITE ${FV_PROBE} "#version 450\n#extension GL_KHR_cooperative_matrix : require\nlayout(local_size_x = 32) in;\nvoid main() {}\n")
execute_process(COMMAND ${GLSLANG} --quiet -V --target-env vulkan1.3 -o ${FV_PROBE}.spv ${FV_PROBE}
                RESULT_VARIABLE FV_COOPMAT_RC OUTPUT_QUIET ERROR_QUIET)
if(FV_COOPMAT_RC EQUAL 0)
  set(FOVEA_SHADER_COOPMAT ON)
else()
  set(FOVEA_SHADER_COOPMAT OFF)
endif()
message(STATUS "glslang supports GL_KHR_cooperative_matrix: ${FOVEA_SHADER_COOPMAT} (optional, unused so far)")

file(GLOB FV_SHADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/shaders/*.comp)
file(GLOB FV_SHADER_INCLUDES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/shaders/common/*.glsl)
set(FV_SPV_DIR ${CMAKE_BINARY_DIR}/spv)
file(MAKE_DIRECTORY ${FV_SPV_DIR} ${CMAKE_BINARY_DIR}/generated)

set(FV_OPT_COMMAND)
if(FOVEA_SPIRV_OPT AND SPIRV_OPT)
  set(FV_OPT_COMMAND COMMAND ${SPIRV_OPT} -O --target-env=vulkan1.1 SPV_PLACEHOLDER -o SPV_PLACEHOLDER)
endif()

set(FV_SPV_FILES)
foreach(src ${FV_SHADERS})
  get_filename_component(name ${src} NAME_WE)
  foreach(storage f32 f16)
    set(spv ${FV_SPV_DIR}/${name}.${storage}.spv)
    if(storage STREQUAL "f16")
      set(defs -DFV_STORAGE_F16=1)
    else()
      set(defs)
    endif()
    string(REPLACE SPV_PLACEHOLDER ${spv} opt_command "${FV_OPT_COMMAND}")
    add_custom_command(
      OUTPUT ${spv}
      COMMAND ${GLSLANG} --quiet -V --target-env vulkan1.1 -I${CMAKE_SOURCE_DIR}/shaders ${defs} -o ${spv} ${src}
      ${opt_command}
      COMMAND ${SPIRV_VAL} --target-env vulkan1.1 ${spv}
      DEPENDS ${src} ${FV_SHADER_INCLUDES}
      COMMENT "GLSL ${name} (${storage})"
      VERBATIM)
    list(APPEND FV_SPV_FILES ${spv})
  endforeach()
endforeach()

set(FV_SHADER_TABLE ${CMAKE_BINARY_DIR}/generated/fv_shader_table.c)
add_custom_command(
  OUTPUT ${FV_SHADER_TABLE}
  COMMAND ${CMAKE_COMMAND} -DOUT=${FV_SHADER_TABLE} -DSPV_DIR=${FV_SPV_DIR} "-DFILES=${FV_SPV_FILES}"
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_spirv.cmake
  DEPENDS ${FV_SPV_FILES} ${CMAKE_SOURCE_DIR}/cmake/embed_spirv.cmake
  COMMENT "Embedding SPIR-V"
  VERBATIM)
add_custom_target(fovea_shaders DEPENDS ${FV_SHADER_TABLE})
