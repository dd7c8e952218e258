// Every layer of the library in one include.
#pragma once

#include "layers/activation.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/normalization.h"
#include "layers/sequential.h"
#include "layers/shape.h"
