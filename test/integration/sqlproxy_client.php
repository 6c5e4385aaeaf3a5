<?php
// A scriptable MySQL client over PHP mysqli (as WordPress connects), driven by the sqlproxy
// integration test: one JSON command per stdin line, one JSON answer per stdout line.
// Commands: connect, query, multi, prepared, change_user, big_row, close.
// Answers: {"ok":true,...} or {"ok":false,"errno":N,"error":"..."}.

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
$db = null;

function rows_of($result) {
  $rows = [];
  if ($result instanceof mysqli_result) {
    while ($row = $result->fetch_row()) $rows[] = $row;
    $result->free();
  }
  return $rows;
}

function run($db, $cmd) {
  switch ($cmd['op']) {
    case 'connect':
      $db = mysqli_init();
      $db->real_connect($cmd['host'], $cmd['user'], $cmd['password'], $cmd['db'] ?? '',
                        $cmd['port']);
      return [$db, ['ok' => true, 'thread_id' => $db->thread_id]];
    case 'query':
      return [$db, ['ok' => true, 'rows' => rows_of($db->query($cmd['sql']))]];
    case 'multi':
      $sets = [];
      $db->multi_query($cmd['sql']);
      do {
        $sets[] = rows_of($db->store_result());
      } while ($db->more_results() && $db->next_result());
      return [$db, ['ok' => true, 'sets' => $sets]];
    case 'prepared':
      // Prepare once, execute with each parameter row, collect every result row.
      $stmt = $db->prepare($cmd['sql']);
      $out = [];
      foreach ($cmd['params'] as $params) {
        if (count($params) > 0) $stmt->bind_param(str_repeat('s', count($params)), ...$params);
        $stmt->execute();
        $result = $stmt->get_result();
        if ($result !== false) $out[] = rows_of($result);
      }
      $stmt->close();
      return [$db, ['ok' => true, 'results' => $out]];
    case 'change_user':
      $db->change_user($cmd['user'], $cmd['password'], $cmd['db'] ?? null);
      return [$db, ['ok' => true]];
    case 'big_row':
      // Sends and reads back a row of `bytes` bytes (larger than one 16 MiB frame).
      $data = str_repeat('x', $cmd['bytes'] - 1) . 'y';
      $stmt = $db->prepare('INSERT INTO big (id, body) VALUES (?, ?)');
      $id = $cmd['id'];
      $stmt->bind_param('is', $id, $data);
      $stmt->execute();
      $stmt->close();
      $rows = rows_of($db->query("SELECT LENGTH(body), RIGHT(body, 1), MD5(body) FROM big WHERE id = $id"));
      $text = $db->query("SELECT body FROM big WHERE id = $id")->fetch_row()[0];
      return [$db, ['ok' => true, 'rows' => $rows, 'read_back_equal' => $text === $data]];
    case 'close':
      $db->close();
      return [null, ['ok' => true]];
  }
  return [$db, ['ok' => false, 'errno' => 0, 'error' => 'unknown op']];
}

while (($line = fgets(STDIN)) !== false) {
  $cmd = json_decode($line, true);
  try {
    [$db, $answer] = run($db, $cmd);
  } catch (Throwable $e) {
    $answer = ['ok' => false, 'errno' => $e->getCode(), 'error' => $e->getMessage()];
  }
  echo json_encode($answer), "\n";
  flush();
}
