#!/bin/sh
# A cheat: wraps the installed reference. The sandbox hides figlet's files, so it must score 0.
set -e
cat > executable <<'WRAP'
#!/bin/sh
exec figlet "$@"
WRAP
chmod +x executable
