-- sysbench script: one new connection, SELECT 1, disconnect per event, as PHP does per page.
function thread_init()
  drv = sysbench.sql.driver()
end

function event()
  local con = drv:connect()
  con:query("SELECT 1")
  con:disconnect()
end
