/*
 * ch/limits.h - the sizes every layer and the wire agree on: names, symbols,
 * ids, quantities and prices. One small header, so that the protocol's
 * codecs and the clients need no engine header to know them.
 */
#ifndef CH_LIMITS_H
#define CH_LIMITS_H

#include <stdint.h>

#define CH_ACCOUNT_NAME_MAX    32                        /**< an account name + NUL */
#define CH_UNDERLYING_MAX      16                        /**< an underlying's name + NUL */
#define CH_SYMBOL_MAX          48                        /**< a canonical symbol + NUL */
#define CH_CLIENT_ORDER_ID_MAX 64                        /**< a client_order_id + NUL */
#define CH_STRIKE_MAX          INT64_C(999999999999)     /**< strikes, whole units of the quote */
#define CH_PRICE_DECIMALS_MAX  8                         /**< decimals of a tick */
#define CH_QTY_MAX             INT64_C(1000000000000)    /**< lots in one order */
#define CH_PRICE_MAX           INT64_C(1000000000000000) /**< ticks */
#define CH_COMMAND_MAX_MARKS   512 /**< implied-vol marks in one market update */
#define CH_TRANCHES_MAX        64  /**< strike tranches in one engine */

#endif
