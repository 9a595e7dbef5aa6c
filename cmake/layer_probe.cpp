// The build's layer boundary, tested (CMakeLists.txt, layer_probe_*): compiled with -fsyntax-only and
// the include path of one library target, this includes the header named by -DPROBE_HEADER=<...>.
// A header of a folder the target links must be found; one of a folder it does not link must not.
#include PROBE_HEADER
