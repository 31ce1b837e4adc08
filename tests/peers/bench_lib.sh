# Shell helpers the load benchmarks share (sourced, not run): the one
# server they run at a time (SERVER_PID), stopped on exit or interrupt, and
# loopback ports. Needs PY (a python3) set by the script that sources it.

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # port, timeout s: until a TCP connect succeeds or the server dies
    local port=$1 n=$(( $2 * 10 ))
    for _ in $(seq "$n"); do
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2).close()" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

