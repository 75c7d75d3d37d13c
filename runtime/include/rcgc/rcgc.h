/* rcgc/rcgc.h: the umbrella header of the rcgc runtime. */
#ifndef RCGC_RCGC_H
#define RCGC_RCGC_H

#include "rcgc/atomic.h"
#include "rcgc/error.h"
#include "rcgc/object.h"
#include "rcgc/runtime.h"
#include "rcgc/types.h"
#include "rcgc/gc.h"
#include "rcgc/semantics.h"

#endif /* RCGC_RCGC_H */
