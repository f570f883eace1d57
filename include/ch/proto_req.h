/*
 * ch/proto_req.h - a request decoded once, typed, whatever its encoding.
 *
 * A JSON request (after ch_proto_parse and ch_msg_check_json) and a binary
 * message of the table (ch/proto_msg.h) both become a ch_req: the message,
 * and one ch_value per field of the message's row, in the row's order. The
 * server's handlers read only this, through the field readers below, so a
 * request gets the same answer and the same error code in both encodings and
 * no handler sees a cJSON tree.
 *
 * A value keeps the kind that was sent (a price may be a number or a
 * decimal string, an order id a string or a number): the readers decide, as
 * the protocol says, what each kind means for each field. Strings are
 * NUL-terminated, valid UTF-8 and hold no NUL (both decoders refuse what
 * would not be). Everything a ch_req points to lives in its arena, or in the
 * cJSON tree it was read from (ch_req_from_json: keep the tree while the
 * request is used); ch_req_free releases the arena.
 */
#ifndef CH_PROTO_REQ_H
#define CH_PROTO_REQ_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/err.h"
#include "ch/instrument.h"
#include "ch/proto_msg.h"
#include "ch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ch_vkind {
    CH_V_ABSENT = 0, /**< not in the request */
    CH_V_NULL,       /**< null (a CH_F_NULL field) */
    CH_V_STR,        /**< str, n bytes */
    CH_V_NUM,        /**< num (an INT field's value is exact below 2^53) */
    CH_V_BOOL,       /**< b */
    CH_V_OBJ,        /**< obj: one object of the field's sub-fields */
    CH_V_LIST,       /**< obj: n objects of the field's sub-fields */
    CH_V_PAIRS,      /**< pairs: 2n numbers */
    CH_V_STRS,       /**< strs: n strings */
    CH_V_MAP,        /**< map: n (name, number) entries, in the order sent */
    CH_V_OTHER       /**< a kind the field cannot have (a JSON "key" of any kind) */
} ch_vkind;

typedef struct ch_fields ch_fields;
typedef struct ch_entry {
    const char *name;
    double num;
} ch_entry;

typedef struct ch_value {
    ch_vkind kind;
    uint32_t n; /**< STR: bytes; LIST, PAIRS, STRS, MAP: elements */
    union {
        const char *str;
        double num;
        bool b;
        const ch_fields *obj;
        const double *pairs;
        const char *const *strs;
        const ch_entry *map;
    } u;
} ch_value;

/** An object: @p v[i] is the value of field @p f[i]. */
struct ch_fields {
    const ch_field *f;
    size_t n;
    const ch_value *v;
};

typedef struct ch_req_arena ch_req_arena;

typedef struct ch_req {
    const ch_msg *m;
    ch_fields root;      /**< the row's request fields */
    ch_req_arena *arena; /**< what the values point to (ch_req_free) */
} ch_req;

/**
 * The typed request of @p j, a JSON object that ch_msg_check_json accepted
 * for @p m. Strings point into @p j. @return CH_OK or CH_ENOMEM (then @p r
 * holds nothing to free).
 */
ch_err ch_req_from_json(const ch_msg *m, const cJSON *j, ch_req *r);

/**
 * The typed request of a JSON request's text (@p len bytes, not
 * NUL-terminated), read in one pass without a cJSON tree, for the plain
 * requests (proto/req_text.c says which): CH_OK, with @p id the envelope's
 * "id" (CH_V_ABSENT, or a string or number); CH_ENOMEM; CH_EBADREQ when it
 * does not take the request, which says nothing of the request: read it
 * the full way (ch_proto_parse, ch_msg_check_json, ch_req_from_json), which
 * accepts whatever this takes, as the same typed request, and names what
 * is wrong with the rest. Strings live in the arena. @p r holds nothing to
 * free unless CH_OK.
 */
ch_err ch_req_from_text(const char *buf, size_t len, ch_req *r, ch_value *id);

/**
 * Decode a binary message of the table (ch/proto_msg.h): its message and
 * request id, and the typed request. Bounded by the schema and by @p len;
 * refuses (CH_EBADREQ) whatever would not encode back to the same bytes,
 * and strings that are not valid UTF-8. CH_ENOMEM if memory runs out.
 * @p r holds nothing to free unless CH_OK.
 */
ch_err ch_req_from_bin(const uint8_t *buf, size_t len, uint64_t *id, ch_req *r);

/** Release what @p r points to (its arena). @p r may be zeroed. */
void ch_req_free(ch_req *r);

/** The value of field @p name of @p o (an absent value for a name not in the row). */
const ch_value *ch_fields_get(const ch_fields *o, const char *name);

/**
 * The JSON object of @p o (with "op" first when @p op is not NULL), as the
 * binary encoder takes it. NULL if memory runs out. Owned: cJSON_Delete.
 */
cJSON *ch_fields_to_json(const ch_fields *o, const char *op);

/** The value of a single JSON scalar (string, number, bool, null; NULL: absent). */
ch_value ch_value_of_json(const cJSON *v);

/* ---- field readers: every problem mapped to the error the protocol names */

/** A string of 1..max-1 bytes: CH_OK, CH_EBADREQ. Absent and not required: CH_OK, @p out untouched.
 */
ch_err ch_proto_string(const ch_value *v, bool required, char *out, size_t max);

/** A quantity: an integer 1..CH_QTY_MAX. Missing: CH_EBADREQ; bad: CH_EBADQTY. */
ch_err ch_proto_qty(const ch_value *v, bool required, int64_t *out);

/** A price on @p u's tick: a number or decimal string. CH_EBADREQ, CH_EBADPRICE. */
ch_err ch_proto_price(const ch_value *v, const ch_underlying_config *u, bool required,
                      int64_t *ticks, bool *present);

/** A finite number (or a string holding one). @p present (may be NULL) tells whether it was there.
 */
ch_err ch_proto_number(const ch_value *v, bool required, double *out, bool *present);

/** A boolean (absent = @p dflt). */
ch_err ch_proto_bool(const ch_value *v, bool dflt, bool *out);

/** An order id: a decimal string (or an integral number below 2^53); beyond 64 bits:
 * CH_EUNKNOWN_ORDER. */
ch_err ch_proto_order_id(const ch_value *v, ch_order_id *out);

/**
 * A time: an ISO-8601 UTC string (YYYY-MM-DDTHH:MM:SS[.fff...]Z) or a
 * number of nanoseconds since the epoch. CH_EBADREQ if malformed.
 */
ch_err ch_proto_time(const ch_value *v, ch_time *out, bool *present);

#ifdef __cplusplus
}
#endif
#endif
