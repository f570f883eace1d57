/*
 * err.c - names, wire codes and messages for ch_err, generated from the one
 * table in ch/err.h so that the three can never drift apart.
 */
#include "ch/err.h"

const char *ch_errname(ch_err e)
{
    switch (e) {
#define CH_ERR_NAME_(name, num, wire, msg)                                                         \
    case name:                                                                                     \
        return &#name[3];
        CH_ERR_TABLE(CH_ERR_NAME_)
#undef CH_ERR_NAME_
    }
    return "EUNKNOWN";
}

const char *ch_errwire(ch_err e)
{
    switch (e) {
#define CH_ERR_WIRE_(name, num, wire, msg)                                                         \
    case name:                                                                                     \
        return wire;
        CH_ERR_TABLE(CH_ERR_WIRE_)
#undef CH_ERR_WIRE_
    }
    return "BAD_REQUEST";
}

const char *ch_strerror(ch_err e)
{
    switch (e) {
#define CH_ERR_MSG_(name, num, wire, msg)                                                          \
    case name:                                                                                     \
        return msg;
        CH_ERR_TABLE(CH_ERR_MSG_)
#undef CH_ERR_MSG_
    }
    return "unknown error";
}
