# Generates backtune.1 from the --help texts of the built command, so the page cannot drift
# from them: help2man makes the page and its version (`backtune --version`); this script
# gives it the SYNOPSIS and DESCRIPTION from `backtune --help` and a COMMANDS section with
# every `backtune CMD --help`, each verbatim (help2man's reflowing would join example lines).
# usage: cmake -DBACKTUNE=path -DHELP2MAN=path -DOUT=backtune.1 -P man_page.cmake
foreach(var BACKTUNE HELP2MAN OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "man_page.cmake: -D${var}=... missing")
  endif()
endforeach()

execute_process(COMMAND ${BACKTUNE} --help OUTPUT_VARIABLE main_help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "man_page.cmake: ${BACKTUNE} --help failed (${rc})")
endif()
# The commands: the indented lines between "commands:" and the next blank line.
string(REGEX MATCH "commands:\n(  [^\n]+\n)+" block "${main_help}")
string(REGEX MATCHALL "\n  [a-z][-a-z]*" names "${block}")

# roff: backslashes escaped; a line starting with '.' or "'" would be a request.
function(roff_verbatim text out_var)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# The usage lines are the synopsis; the rest of the main help the description.
string(REGEX MATCH "^usage: ([^\n]+)\n( +[^\n]+\n)*" usage "${main_help}")
string(LENGTH "${usage}" usage_length)
string(SUBSTRING "${main_help}" ${usage_length} -1 description)
string(REGEX REPLACE "^usage: " "" usage "${usage}")
string(REGEX REPLACE "\n +" "\n" usage "${usage}")
string(REGEX REPLACE "\n\n+" "\n" usage "${usage}")
string(STRIP "${description}" description)
roff_verbatim("${usage}" usage)
roff_verbatim("${description}\n" description)
set(include_text "[SYNOPSIS]\n.nf\n${usage}.fi\n[=DESCRIPTION]\n.nf\n${description}.fi\n")
string(APPEND include_text "[COMMANDS]\nEach command's \\fB\\-\\-help\\fR, as the command prints it.\n")
foreach(name IN LISTS names)
  string(STRIP "${name}" name)
  execute_process(COMMAND ${BACKTUNE} ${name} --help OUTPUT_VARIABLE text ERROR_VARIABLE error
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    # A command that runs another program (import-model: Python) may lack it on the build
    # machine: the page says so instead of failing the build.
    message(WARNING "man_page.cmake: ${BACKTUNE} ${name} --help failed (${rc}): ${error}")
    set(text "(backtune ${name} --help did not run where this page was made: ${error})\n")
  endif()
  roff_verbatim("${text}" text)
  string(APPEND include_text ".SS \"backtune ${name}\"\n.nf\n${text}.fi\n")
endforeach()
string(APPEND include_text "[SEE ALSO]\nThe README.md and docs/ of the backtune sources; "
       "\\fBpkg\\-config \\-\\-cflags \\-\\-libs backtune\\fR or CMake's "
       "\\fBfind_package(backtune)\\fR (target \\fBbacktune::backtune\\fR) to build against "
       "the library.\n")
file(WRITE ${OUT}.h2m "${include_text}")

execute_process(
  COMMAND ${HELP2MAN} --no-info --section=1 --include=${OUT}.h2m
          "--name=backward-pass kernels for FC and convolution layers: check, benchmark, tune, compare"
          --output=${OUT} ${BACKTUNE}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "man_page.cmake: help2man failed (${rc})")
endif()
