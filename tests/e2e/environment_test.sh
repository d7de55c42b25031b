#!/usr/bin/env bash
# import_environment: master and every daemon it starts keep only the
# variables the list names (default: MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ
# XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME), with the
# NAME=value entries set; nothing else from the shell that ran "postfix
# start" reaches them. A command that local runs gets export_environment
# plus PATH. A changed list applies at the next start, and at reload to
# the daemons started after it. postfix check no longer lists it as
# unimplemented.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance

# Variables an administrator's shell may carry.
export POSTERN_ENV_JUNK=secret LD_LIBRARY_PATH=/nonexistent/lib TZ=UTC LANG=de_DE.UTF-8
export http_proxy=http://proxy.example:3128
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# env_of PID: the process's environment, one NAME=value a line.
env_of() { tr '\0' '\n' < "/proc/$1/environ" 2>/dev/null; }
has() { env_of "$1" | grep -qx -- "$2"; }
lacks() { ! env_of "$1" | grep -q -- "^$2="; }
# not_in FILE RE: no line of FILE matches RE.
not_in() { ! grep -q -- "$2" "$1"; }

# pt_start waits for smtpd's greeting; master may start qmgr a moment later
# (seen on a loaded machine): wait for it too.
pt_wait '[ -n "$(pt_child qmgr)" ]' 20
m=$(pt_master_pid) q=$(pt_child qmgr)
pt_check master_found [ -n "$m" ]
pt_check qmgr_found [ -n "$q" ]
for p in master:"$m" qmgr:"$q"; do
    n=${p%%:*} pid=${p#*:}
    pt_check "${n}_no_junk" lacks "$pid" POSTERN_ENV_JUNK
    pt_check "${n}_no_ld_library_path" lacks "$pid" LD_LIBRARY_PATH
    pt_check "${n}_no_proxy" lacks "$pid" http_proxy
    pt_check "${n}_no_path" lacks "$pid" PATH
    pt_check "${n}_tz_kept" has "$pid" TZ=UTC
    pt_check "${n}_lang_set" has "$pid" LANG=C
    pt_check "${n}_mail_config" has "$pid" "MAIL_CONFIG=$PT_CONF"
done
pt_check qmgr_nothing_else [ "$(env_of "$q" | cut -d= -f1 | sort | tr '\n' ' ')" = "LANG MAIL_CONFIG TZ " ]

# A command that local runs: export_environment (TZ MAIL_CONFIG LANG) and PATH.
EDIR=$PT_T/envcheck
mkdir -p "$EDIR" && chmod 1777 "$EDIR"
printf '%s\n' "envcheck: \"|/bin/sh -c 'cat >/dev/null; /usr/bin/env >$EDIR/cmd.env'\"" >> "$PT_CONF/aliases"
pt_cmd postalias "$PT_CONF/aliases"
pt_smtp_send sender@example.test envcheck@example.test >/dev/null
pt_check command_ran pt_wait '[ -s "$EDIR/cmd.env" ]' 20
pt_check command_no_junk not_in "$EDIR/cmd.env" '^POSTERN_ENV_JUNK='
pt_check command_no_ld_library_path not_in "$EDIR/cmd.env" '^LD_LIBRARY_PATH='
pt_check command_path grep -qx 'PATH=/usr/bin:/bin' "$EDIR/cmd.env"
pt_check command_tz grep -qx 'TZ=UTC' "$EDIR/cmd.env"
pt_check command_lang grep -qx 'LANG=C' "$EDIR/cmd.env"

# The administrator's own list, at the next start: NAME keeps, "{ NAME=v }" sets.
pt_stop
pt_wait '[ ! -s "$PT_T/spool/pid/master.pid" ] || ! kill -0 "$(pt_master_pid)" 2>/dev/null' 20
cat >> "$PT_CONF/main.cf" <<'EOC'
import_environment = MAIL_CONFIG, POSTERN_ENV_JUNK { POSTERN_ENV_SET = a, b }
export_environment = POSTERN_ENV_JUNK { POSTERN_CMD_SET=x y }
EOC
pt_cmd postfix check > "$PT_T/check.out" 2>&1
pt_check check_not_unimplemented not_in "$PT_T/check.out" import_environment
pt_start || { pt_fail restart "instance did not start again"; pt_done; exit 1; }
pt_wait '[ -n "$(pt_child qmgr)" ]' 20
q=$(pt_child qmgr)
pt_check own_list_junk_kept has "$q" POSTERN_ENV_JUNK=secret
pt_check own_list_braced_value has "$q" "POSTERN_ENV_SET=a, b"
pt_check own_list_no_tz lacks "$q" TZ
pt_check own_list_no_lang lacks "$q" LANG
rm -f "$EDIR/cmd.env"
pt_smtp_send sender@example.test envcheck@example.test >/dev/null
pt_check own_list_command_ran pt_wait '[ -s "$EDIR/cmd.env" ]' 20
pt_check own_list_command_junk grep -qx 'POSTERN_ENV_JUNK=secret' "$EDIR/cmd.env"
pt_check own_list_command_braced grep -qx 'POSTERN_CMD_SET=x y' "$EDIR/cmd.env"

# At reload the shorter list reaches the daemons started after it.
sed -i 's/^import_environment = .*/import_environment = MAIL_CONFIG/' "$PT_CONF/main.cf"
pt_cmd postfix reload 2>/dev/null
pt_check reload_new_qmgr pt_wait '[ -n "$(pt_child qmgr)" ] && [ "$(pt_child qmgr)" != "'"$q"'" ]' 20
q=$(pt_child qmgr)
pt_check reload_junk_gone lacks "$q" POSTERN_ENV_JUNK
pt_check reload_set_gone lacks "$q" POSTERN_ENV_SET
pt_check reload_mail_config has "$q" "MAIL_CONFIG=$PT_CONF"
pt_done
