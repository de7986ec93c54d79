/* A library the TLS test loads with dlopen while green threads exist: one variable in
 * global-dynamic TLS (allocated on first use in each thread) and one in initial-exec TLS
 * (placed in static TLS by the loader, initialised in every thread it knows of). */
__thread int module_gd = 7;
__attribute__((tls_model("initial-exec"))) __thread int module_ie = 9;

int* module_gd_address(void) { return &module_gd; }
int* module_ie_address(void) { return &module_ie; }
