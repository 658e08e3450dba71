/* backtune import-model: runs the Python package's importer (`python3 -m backtune
 * import-model`, python/backtune/model_import.py), which needs torch and torchvision (and
 * onnx for ONNX files). The interpreter is BACKTUNE_PYTHON or the one the build was
 * configured with; a command run from its build tree uses the package's source and the built
 * library, an installed one the installed package. */
#include "commands.h"
#include "python_paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

static int running_from_build_tree(void) {
    char self[PATH_MAX], build[PATH_MAX];
    if (!realpath("/proc/self/exe", self) || !realpath(BT_BUILD_DIR, build)) return 0;
    size_t n = strlen(build);
    return !strncmp(self, build, n) && self[n] == '/';
}

int bt_cmd_import_model(int argc, char **argv) {
    const char *python = getenv("BACKTUNE_PYTHON");
    if (!python || !*python) python = BT_PYTHON_EXECUTABLE;
    if (running_from_build_tree()) {
        const char *old = getenv("PYTHONPATH");
        char path[2 * PATH_MAX];
        snprintf(path, sizeof path, "%s%s%s", BT_PYTHON_SOURCE_DIR, old && *old ? ":" : "",
                 old && *old ? old : "");
        if (setenv("PYTHONPATH", path, 1) || setenv("BACKTUNE_LIBRARY", BT_BUILD_LIBRARY, 0)) {
            perror("backtune import-model: setenv");
            return 2;
        }
    }
    /* python -m backtune import-model <the arguments after import-model> */
    char **args = calloc((size_t)argc + 4, sizeof *args);
    if (!args) {
        fprintf(stderr, "backtune import-model: out of memory\n");
        return 2;
    }
    args[0] = (char *)python;
    args[1] = "-m";
    args[2] = "backtune";
    for (int i = 0; i < argc; i++) args[3 + i] = argv[i];
    execv(python, args);
    fprintf(stderr,
            "backtune import-model: cannot run %s (%s); it needs Python 3 with torch and "
            "torchvision (Debian: python3-torch python3-torchvision; BACKTUNE_PYTHON names "
            "another interpreter)\n",
            python, strerror(errno));
    free(args);
    return 2;
}
