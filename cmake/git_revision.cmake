# Writes OUT (a header defining BT_GIT_REVISION) from `git describe` of SOURCE_DIR, at every
# build, rewriting it only when the revision changed (so nothing recompiles otherwise).
execute_process(COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                RESULT_VARIABLE failed)
if(failed OR rev STREQUAL "")
  set(rev "unknown (not a git checkout)")
endif()
set(text "/* Generated at build time by cmake/git_revision.cmake. */\n#define BT_GIT_REVISION \"${rev}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
