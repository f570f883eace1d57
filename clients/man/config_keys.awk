# chd --config-doc (a Markdown table: key | type | range | default | meaning)
# into scdoc: one entry a key, in the order chd prints them. Used by
# scdoc.cmake to fill in chd.conf(5), so the page lists what chd reads.
function clean(s) {
    gsub(/\\\|/, "\001", s)        # an escaped pipe inside a cell
    gsub(/`/, "", s)
    sub(/^[ \t]+/, "", s)
    sub(/[ \t]+$/, "", s)
    return s
}
function scd(s) {                  # scdoc's bold and underline marks, literally
    gsub(/\001/, "|", s)
    gsub(/\\/, "\\\\", s)
    gsub(/\*/, "\\*", s)
    gsub(/_/, "\\_", s)
    if (s ~ /^[-|:.[\]]/)          # would open a table or a list
        s = "\\" s
    return s
}
/^\| `/ {
    line = $0
    gsub(/\\\|/, "\001", line)
    n = split(line, c, "|")
    if (n < 7) {
        print "config_keys.awk: line " NR ": expected 5 cells" > "/dev/stderr"
        bad = 1
        exit 1
    }
    key = clean(c[2]); type = clean(c[3]); range = clean(c[4])
    def = clean(c[5]); meaning = clean(c[6])
    head = "*" scd(key) "* (" scd(type)
    if (range != "")
        head = head ", " scd(range)
    head = head "; default " scd(def) ")"
    print head
    print "\t" scd(meaning)
    print ""
    keys++
}
END {
    if (!bad && keys == 0) {
        print "config_keys.awk: no keys in the input" > "/dev/stderr"
        exit 1
    }
}
