// The PKCS #11 v2.40/v3 interface as p11-kit ships it (Debian: libp11-kit-dev), and dlopen for loading a vendor's
// module. Ichigo links no PKCS #11 library: the module named in the configuration is loaded at run time.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

// C_GetFunctionList through a function pointer found with dlsym.
static inline CK_RV ichigo_get_function_list(void *symbol, CK_FUNCTION_LIST_PTR_PTR list) {
    return ((CK_C_GetFunctionList)symbol)(list);
}
