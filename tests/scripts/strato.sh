# A strato of the caller's own on a free loopback port, started and stopped by PID.
# Sourced by tests/scripts/run.sh and bench/run.sh; needs STRATO_BIN and /usr/bin/python3.
#
#   strato_start DATA_DIR LOG_DIR [serve flags...]   sets STRATO_PID, STRATO_ENDPOINT
#   strato_stop                                       SIGTERM, 5 s grace, then SIGKILL
#   strato_terminate_all ENDPOINT                     terminates every instance of the test regions
#                                                     (before a stop: instances outlive strato)
#
# STRATO_SERVE_ENV (optional) holds `env` arguments for the server process only,
# e.g. "-u GOGC GOGC=100".

STRATO_PID=""
STRATO_ENDPOINT=""

strato_start() {
	local data=$1 logs=$2 port
	shift 2
	# Ask the kernel for a free port (bind to port 0), then release it.
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()') || return 1
	# shellcheck disable=SC2086 # STRATO_SERVE_ENV is a list of env arguments
	env ${STRATO_SERVE_ENV:-} "$STRATO_BIN" serve --data-dir "$data" --listen "127.0.0.1:$port" --driver mock --log-level warn "$@" \
		>"$logs/strato.out" 2>"$logs/strato.log" &
	STRATO_PID=$!
	STRATO_ENDPOINT=http://127.0.0.1:$port
	# Ready when the credentials file exists and the port accepts connections.
	for _ in $(seq 150); do
		kill -0 "$STRATO_PID" 2>/dev/null || break
		if [[ -s $data/credentials ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	cat "$logs/strato.log" >&2
	echo "strato did not start on $STRATO_ENDPOINT" >&2
	return 1
}

strato_stop() {
	[[ -n $STRATO_PID ]] && kill -0 "$STRATO_PID" 2>/dev/null || return 0
	kill -TERM "$STRATO_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$STRATO_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$STRATO_PID" 2>/dev/null && kill -KILL "$STRATO_PID" 2>/dev/null
	wait "$STRATO_PID" 2>/dev/null
	STRATO_PID=""
}

# strato_terminate_all ENDPOINT: terminates every instance the credentials in the
# environment see, in each region the tests use (STRATO_TEST_REGIONS, default
# us-east-1 and us-west-2), and waits (2 minutes at most per region) until only
# terminated ones are left.
strato_terminate_all() {
	local ids region
	for region in ${STRATO_TEST_REGIONS:-us-east-1 us-west-2}; do
		ids=$(/usr/bin/aws --endpoint-url "$1" --region "$region" ec2 describe-instances --query 'Reservations[].Instances[?State.Name!=`terminated`].InstanceId' --output text 2>/dev/null)
		[[ -z $ids ]] && continue
		# shellcheck disable=SC2086 # a list of IDs
		/usr/bin/aws --endpoint-url "$1" --region "$region" ec2 terminate-instances --instance-ids $ids >/dev/null 2>&1
		for _ in $(seq 600); do
			ids=$(/usr/bin/aws --endpoint-url "$1" --region "$region" ec2 describe-instances --query 'Reservations[].Instances[?State.Name!=`terminated`].InstanceId' --output text 2>/dev/null)
			[[ -z $ids ]] && break
			sleep 0.2
		done
		[[ -z $ids ]] || echo "instances in $region still not terminated: $ids" >&2
	done
}
