# Compiles every shaders/*.comp to SPIR-V twice (fp32 and fp16 storage), validates each
# module with spirv-val, and embeds the words in a generated C table (fv_shader_table).
find_program(GLSLANG glslangValidator REQUIRED)
find_program(SPIRV_VAL spirv-val REQUIRED)

file(GLOB FV_SHADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/shaders/*.comp)
file(GLOB FV_SHADER_INCLUDES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/shaders/common/*.glsl)
set(FV_SPV_DIR ${CMAKE_BINARY_DIR}/spv)
file(MAKE_DIRECTORY ${FV_SPV_DIR} ${CMAKE_BINARY_DIR}/generated)

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
    add_custom_command(
      OUTPUT ${spv}
      COMMAND ${GLSLANG} --quiet -V --target-env vulkan1.1 -I${CMAKE_SOURCE_DIR}/shaders ${defs} -o ${spv} ${src}
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
