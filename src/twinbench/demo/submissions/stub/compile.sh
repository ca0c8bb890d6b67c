#!/bin/sh
# A stub: builds an executable that does nothing. It should score about 0.
set -e
printf "#!/bin/sh\nexit 0\n" > executable
chmod +x executable
