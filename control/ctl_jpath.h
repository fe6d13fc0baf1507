/* SPDX-License-Identifier: BSD-3-Clause
 * Where a JSON path ("rules[2].match.sni[0]") sits in JSON text, as the
 * line and column an editor shows. The policy library names a problem by
 * its path only (jansson keeps no positions); plainsight-ctl turns the path
 * back into FILE:LINE:COLUMN with this.
 */
#ifndef CTL_JPATH_H
#define CTL_JPATH_H

#include <stdbool.h>
#include <stddef.h>

/* A position in text: 1-based line, 1-based column counted in characters
 * (UTF-8 sequences), as jansson counts them in its syntax errors. */
struct ctl_jpos {
	unsigned int line;
	unsigned int column;
};

/*
 * Parse the path at the start of s, as the policy library writes it: "top
 * level", or keys and indexes ("a.b[3]", "a[\"odd key\"]") ending at ": ".
 * On success returns the number of bytes of s the path takes (the ": " not
 * included) and sets *root when the path is the document itself; returns
 * -EINVAL when s does not start with a path of that form.
 */
int ctl_jpath_parse(const char *s, bool *root);

/*
 * The position in text[0..len) of the value at path (a path ctl_jpath_parse()
 * accepts, path_len bytes of it), or of its key when at_key and the last
 * step is a key. text must be JSON that jansson accepted. Returns 0 and
 * fills *out, -ENOENT when the path is not in text, -EINVAL when path or
 * text cannot be read. Pure: any thread.
 */
int ctl_jpath_locate(const char *text, size_t len, const char *path,
		     size_t path_len, bool at_key, struct ctl_jpos *out);

#endif /* CTL_JPATH_H */
